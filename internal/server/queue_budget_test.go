package server

import "testing"

// TestHubsShareOneQueueBudget: the frames queued in every hub, created at
// start or later, with options changed or not, count against one
// server-wide budget, so that sessions that stop reading cannot take
// memory hub by hub.
func TestHubsShareOneQueueBudget(t *testing.T) {
	s, d, _ := openAdmin(t)
	call(t, d, serverAdm, "CreateHub", params("HubName", "SECOND", "AdminPasswordPlainText", "pw", "Online", true))
	call(t, d, serverAdm, "SetHubExtOptions", params("HubName", "DEFAULT", "Name", "FilterIPv6", "Value", 1))
	first, second := s.LookupHub("DEFAULT").Options().QueueBudget, s.LookupHub("SECOND").Options().QueueBudget
	if first == nil || first != second || first != s.queues {
		t.Fatalf("hubs DEFAULT and SECOND queue against budgets %p and %p, the server's is %p", first, second, s.queues)
	}
}
