package config

import "slices"

// Copy-on-write editing of a hub's cascades (see cow.go). EditHub copies
// a hub but not its cascade list, which the published hub still shares:
// these helpers give the edited hub a list of its own before they change
// it, and copy the one cascade they change.

// EditCascade replaces the cascade whose AccountName is account
// (case-insensitive) by a copy to change and returns it, or nil. Call it
// on a hub returned by EditHub.
func (h *Hub) EditCascade(account string) *Cascade {
	i := h.cascadeIndex(account)
	if i < 0 {
		return nil
	}
	h.Cascades = slices.Clone(h.Cascades)
	c := *h.Cascades[i]
	c.Policy = clonePolicy(c.Policy)
	h.Cascades[i] = &c
	return &c
}

// ReplaceCascade replaces the cascade whose AccountName is account
// (case-insensitive) by c, which takes its place in the list and in the
// file, and returns the new one, or nil when there is no such cascade.
// Call it on a hub returned by EditHub.
func (h *Hub) ReplaceCascade(account string, c Cascade) *Cascade {
	i := h.cascadeIndex(account)
	if i < 0 {
		return nil
	}
	h.Cascades = slices.Clone(h.Cascades)
	c.folder = h.Cascades[i].folder
	h.Cascades[i] = &c
	return &c
}

// AddCascade appends c to the hub's cascades. Call it on a hub returned
// by EditHub (or one of a configuration not yet published).
func (h *Hub) AddCascade(c *Cascade) {
	h.Cascades = append(slices.Clip(h.Cascades), c) // never into a shared array
}

// RemoveCascade deletes the cascade whose AccountName is account
// (case-insensitive); it reports whether there was one. Call it on a hub
// returned by EditHub.
func (h *Hub) RemoveCascade(account string) bool {
	i := h.cascadeIndex(account)
	if i < 0 {
		return false
	}
	h.Cascades = slices.Delete(slices.Clone(h.Cascades), i, i+1)
	return true
}
