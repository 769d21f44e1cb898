package vpnerr

// SoftEther's error numbers, named as in SoftEther (src/Cedar/Cedar.h, the
// ERR_* defines) with the ERR_ prefix dropped and the rest in Go's case.
const (
	NoError                          Error = 0   // ERR_NO_ERROR
	ConnectFailed                    Error = 1   // ERR_CONNECT_FAILED
	ServerIsNotVPN                   Error = 2   // ERR_SERVER_IS_NOT_VPN
	Disconnected                     Error = 3   // ERR_DISCONNECTED
	ProtocolError                    Error = 4   // ERR_PROTOCOL_ERROR
	ClientIsNotVPN                   Error = 5   // ERR_CLIENT_IS_NOT_VPN
	UserCancel                       Error = 6   // ERR_USER_CANCEL
	AuthTypeNotSupported             Error = 7   // ERR_AUTHTYPE_NOT_SUPPORTED
	HubNotFound                      Error = 8   // ERR_HUB_NOT_FOUND
	AuthFailed                       Error = 9   // ERR_AUTH_FAILED
	HubStopping                      Error = 10  // ERR_HUB_STOPPING
	SessionRemoved                   Error = 11  // ERR_SESSION_REMOVED
	AccessDenied                     Error = 12  // ERR_ACCESS_DENIED
	SessionTimeout                   Error = 13  // ERR_SESSION_TIMEOUT
	InvalidProtocol                  Error = 14  // ERR_INVALID_PROTOCOL
	TooManyConnection                Error = 15  // ERR_TOO_MANY_CONNECTION
	HubIsBusy                        Error = 16  // ERR_HUB_IS_BUSY
	ProxyConnectFailed               Error = 17  // ERR_PROXY_CONNECT_FAILED
	ProxyError                       Error = 18  // ERR_PROXY_ERROR
	ProxyAuthFailed                  Error = 19  // ERR_PROXY_AUTH_FAILED
	TooManyUserSession               Error = 20  // ERR_TOO_MANY_USER_SESSION
	LicenseError                     Error = 21  // ERR_LICENSE_ERROR
	DeviceDriverError                Error = 22  // ERR_DEVICE_DRIVER_ERROR
	InternalError                    Error = 23  // ERR_INTERNAL_ERROR
	SecureDeviceOpenFailed           Error = 24  // ERR_SECURE_DEVICE_OPEN_FAILED
	SecurePinLoginFailed             Error = 25  // ERR_SECURE_PIN_LOGIN_FAILED
	SecureNoCert                     Error = 26  // ERR_SECURE_NO_CERT
	SecureNoPrivateKey               Error = 27  // ERR_SECURE_NO_PRIVATE_KEY
	SecureCantWrite                  Error = 28  // ERR_SECURE_CANT_WRITE
	ObjectNotFound                   Error = 29  // ERR_OBJECT_NOT_FOUND
	VLANAlreadyExists                Error = 30  // ERR_VLAN_ALREADY_EXISTS
	VLANInstallError                 Error = 31  // ERR_VLAN_INSTALL_ERROR
	VLANInvalidName                  Error = 32  // ERR_VLAN_INVALID_NAME
	NotSupported                     Error = 33  // ERR_NOT_SUPPORTED
	AccountAlreadyExists             Error = 34  // ERR_ACCOUNT_ALREADY_EXISTS
	AccountActive                    Error = 35  // ERR_ACCOUNT_ACTIVE
	AccountNotFound                  Error = 36  // ERR_ACCOUNT_NOT_FOUND
	AccountInactive                  Error = 37  // ERR_ACCOUNT_INACTIVE
	InvalidParameter                 Error = 38  // ERR_INVALID_PARAMETER
	SecureDeviceError                Error = 39  // ERR_SECURE_DEVICE_ERROR
	NoSecureDeviceSpecified          Error = 40  // ERR_NO_SECURE_DEVICE_SPECIFIED
	VLANIsUsed                       Error = 41  // ERR_VLAN_IS_USED
	VLANForAccountNotFound           Error = 42  // ERR_VLAN_FOR_ACCOUNT_NOT_FOUND
	VLANForAccountUsed               Error = 43  // ERR_VLAN_FOR_ACCOUNT_USED
	VLANForAccountDisabled           Error = 44  // ERR_VLAN_FOR_ACCOUNT_DISABLED
	InvalidValue                     Error = 45  // ERR_INVALID_VALUE
	NotFarmController                Error = 46  // ERR_NOT_FARM_CONTROLLER
	TryingToConnect                  Error = 47  // ERR_TRYING_TO_CONNECT
	ConnectToFarmController          Error = 48  // ERR_CONNECT_TO_FARM_CONTROLLER
	CouldNotHostHubOnFarm            Error = 49  // ERR_COULD_NOT_HOST_HUB_ON_FARM
	FarmMemberHubAdmin               Error = 50  // ERR_FARM_MEMBER_HUB_ADMIN
	NullPasswordLocalOnly            Error = 51  // ERR_NULL_PASSWORD_LOCAL_ONLY
	NotEnoughRight                   Error = 52  // ERR_NOT_ENOUGH_RIGHT
	ListenerNotFound                 Error = 53  // ERR_LISTENER_NOT_FOUND
	ListenerAlreadyExists            Error = 54  // ERR_LISTENER_ALREADY_EXISTS
	NotFarmMember                    Error = 55  // ERR_NOT_FARM_MEMBER
	CipherNotSupported               Error = 56  // ERR_CIPHER_NOT_SUPPORTED
	HubAlreadyExists                 Error = 57  // ERR_HUB_ALREADY_EXISTS
	TooManyHubs                      Error = 58  // ERR_TOO_MANY_HUBS
	LinkAlreadyExists                Error = 59  // ERR_LINK_ALREADY_EXISTS
	LinkCantCreateOnFarm             Error = 60  // ERR_LINK_CANT_CREATE_ON_FARM
	LinkIsOffline                    Error = 61  // ERR_LINK_IS_OFFLINE
	TooManyAccessList                Error = 62  // ERR_TOO_MANY_ACCESS_LIST
	TooManyUser                      Error = 63  // ERR_TOO_MANY_USER
	TooManyGroup                     Error = 64  // ERR_TOO_MANY_GROUP
	GroupNotFound                    Error = 65  // ERR_GROUP_NOT_FOUND
	UserAlreadyExists                Error = 66  // ERR_USER_ALREADY_EXISTS
	GroupAlreadyExists               Error = 67  // ERR_GROUP_ALREADY_EXISTS
	UserAuthTypeNotPassword          Error = 68  // ERR_USER_AUTHTYPE_NOT_PASSWORD
	OldPasswordWrong                 Error = 69  // ERR_OLD_PASSWORD_WRONG
	LinkCantDisconnect               Error = 73  // ERR_LINK_CANT_DISCONNECT
	AccountNotPresent                Error = 74  // ERR_ACCOUNT_NOT_PRESENT
	AlreadyOnline                    Error = 75  // ERR_ALREADY_ONLINE
	Offline                          Error = 76  // ERR_OFFLINE
	NotRSA1024                       Error = 77  // ERR_NOT_RSA_1024
	SNATCantDisconnect               Error = 78  // ERR_SNAT_CANT_DISCONNECT
	SNATNeedStandalone               Error = 79  // ERR_SNAT_NEED_STANDALONE
	SNATNotRunning                   Error = 80  // ERR_SNAT_NOT_RUNNING
	SeVPNBlock                       Error = 81  // ERR_SE_VPN_BLOCK
	BridgeCantDisconnect             Error = 82  // ERR_BRIDGE_CANT_DISCONNECT
	LocalBridgeStopping              Error = 83  // ERR_LOCAL_BRIDGE_STOPPING
	LocalBridgeUnsupported           Error = 84  // ERR_LOCAL_BRIDGE_UNSUPPORTED
	CertNotTrusted                   Error = 85  // ERR_CERT_NOT_TRUSTED
	ProductCodeInvalid               Error = 86  // ERR_PRODUCT_CODE_INVALID
	VersionInvalid                   Error = 87  // ERR_VERSION_INVALID
	CaptureDeviceAddError            Error = 88  // ERR_CAPTURE_DEVICE_ADD_ERROR
	VPNCodeInvalid                   Error = 89  // ERR_VPN_CODE_INVALID
	CaptureNotFound                  Error = 90  // ERR_CAPTURE_NOT_FOUND
	Layer3CantDisconnect             Error = 91  // ERR_LAYER3_CANT_DISCONNECT
	Layer3SwExists                   Error = 92  // ERR_LAYER3_SW_EXISTS
	Layer3SwNotFound                 Error = 93  // ERR_LAYER3_SW_NOT_FOUND
	InvalidName                      Error = 94  // ERR_INVALID_NAME
	Layer3IfAddFailed                Error = 95  // ERR_LAYER3_IF_ADD_FAILED
	Layer3IfDelFailed                Error = 96  // ERR_LAYER3_IF_DEL_FAILED
	Layer3IfExists                   Error = 97  // ERR_LAYER3_IF_EXISTS
	Layer3TableAddFailed             Error = 98  // ERR_LAYER3_TABLE_ADD_FAILED
	Layer3TableDelFailed             Error = 99  // ERR_LAYER3_TABLE_DEL_FAILED
	Layer3TableExists                Error = 100 // ERR_LAYER3_TABLE_EXISTS
	BadClock                         Error = 101 // ERR_BAD_CLOCK
	Layer3CantStartSwitch            Error = 102 // ERR_LAYER3_CANT_START_SWITCH
	ClientLicenseNotEnough           Error = 103 // ERR_CLIENT_LICENSE_NOT_ENOUGH
	BridgeLicenseNotEnough           Error = 104 // ERR_BRIDGE_LICENSE_NOT_ENOUGH
	ServerCantAccept                 Error = 105 // ERR_SERVER_CANT_ACCEPT
	ServerCertExpires                Error = 106 // ERR_SERVER_CERT_EXPIRES
	MonitorModeDenied                Error = 107 // ERR_MONITOR_MODE_DENIED
	BridgeModeDenied                 Error = 108 // ERR_BRIDGE_MODE_DENIED
	IPAddressDenied                  Error = 109 // ERR_IP_ADDRESS_DENIED
	TooManyItems                     Error = 110 // ERR_TOO_MANT_ITEMS
	MemoryNotEnough                  Error = 111 // ERR_MEMORY_NOT_ENOUGH
	ObjectExists                     Error = 112 // ERR_OBJECT_EXISTS
	Fatal                            Error = 113 // ERR_FATAL
	ServerLicenseFailed              Error = 114 // ERR_SERVER_LICENSE_FAILED
	ServerInternetFailed             Error = 115 // ERR_SERVER_INTERNET_FAILED
	ClientLicenseFailed              Error = 116 // ERR_CLIENT_LICENSE_FAILED
	BadCommandOrParam                Error = 117 // ERR_BAD_COMMAND_OR_PARAM
	InvalidLicenseKey                Error = 118 // ERR_INVALID_LICENSE_KEY
	NoVPNServerLicense               Error = 119 // ERR_NO_VPN_SERVER_LICENSE
	NoVPNClusterLicense              Error = 120 // ERR_NO_VPN_CLUSTER_LICENSE
	NotAdminpackServer               Error = 121 // ERR_NOT_ADMINPACK_SERVER
	NotAdminpackServerNet            Error = 122 // ERR_NOT_ADMINPACK_SERVER_NET
	BetaExpires                      Error = 123 // ERR_BETA_EXPIRES
	BrandedCToS                      Error = 124 // ERR_BRANDED_C_TO_S
	BrandedCFromS                    Error = 125 // ERR_BRANDED_C_FROM_S
	AutoDisconnected                 Error = 126 // ERR_AUTO_DISCONNECTED
	ClientIdRequired                 Error = 127 // ERR_CLIENT_ID_REQUIRED
	TooManyUsersCreated              Error = 128 // ERR_TOO_MANY_USERS_CREATED
	SubscriptionIsOlder              Error = 129 // ERR_SUBSCRIPTION_IS_OLDER
	IllegalTrialVersion              Error = 130 // ERR_ILLEGAL_TRIAL_VERSION
	NATTTwoOrMore                    Error = 131 // ERR_NAT_T_TWO_OR_MORE
	DuplicateDDNSKey                 Error = 132 // ERR_DUPLICATE_DDNS_KEY
	DDNSHostnameExists               Error = 133 // ERR_DDNS_HOSTNAME_EXISTS
	DDNSHostnameInvalidChar          Error = 134 // ERR_DDNS_HOSTNAME_INVALID_CHAR
	DDNSHostnameTooLong              Error = 135 // ERR_DDNS_HOSTNAME_TOO_LONG
	DDNSHostnameIsEmpty              Error = 136 // ERR_DDNS_HOSTNAME_IS_EMPTY
	DDNSHostnameTooShort             Error = 137 // ERR_DDNS_HOSTNAME_TOO_SHORT
	MSCHAP2PasswordNeedReset         Error = 138 // ERR_MSCHAP2_PASSWORD_NEED_RESET
	DDNSDisconnected                 Error = 139 // ERR_DDNS_DISCONNECTED
	SpecialListenerICMPError         Error = 140 // ERR_SPECIAL_LISTENER_ICMP_ERROR
	SpecialListenerDNSError          Error = 141 // ERR_SPECIAL_LISTENER_DNS_ERROR
	OpenVPNIsNotEnabled              Error = 142 // ERR_OPENVPN_IS_NOT_ENABLED
	NotSupportedAuthOnOpensource     Error = 143 // ERR_NOT_SUPPORTED_AUTH_ON_OPENSOURCE
	VPNGate                          Error = 144 // ERR_VPNGATE
	VPNGateClient                    Error = 145 // ERR_VPNGATE_CLIENT
	VPNGateInclientCantStop          Error = 146 // ERR_VPNGATE_INCLIENT_CANT_STOP
	NotSupportedFunctionOnOpensource Error = 147 // ERR_NOT_SUPPORTED_FUNCTION_ON_OPENSOURCE
	Suspending                       Error = 148 // ERR_SUSPENDING
	HostnameMismatch                 Error = 149 // ERR_HOSTNAME_MISMATCH
	SSLProtocolVersion               Error = 150 // ERR_SSL_PROTOCOL_VERSION
	SSLSharedCipher                  Error = 151 // ERR_SSL_SHARED_CIPHER
	SSLHandshake                     Error = 152 // ERR_SSL_HANDSHAKE
)

// table holds SoftEther's name and the English message the real programs
// print (strtable_en.stb, keys ERR_n; vpncmd shows them and the JSON-RPC
// error message carries them) of each code; 70 to 72 are unused numbers.
var table = [...]entry{
	0:   {"ERR_NO_ERROR", "No error."},
	1:   {"ERR_CONNECT_FAILED", "Connection to the server failed. Check network connection and make sure that address and port number of destination server are correct."},
	2:   {"ERR_SERVER_IS_NOT_VPN", "Protocol error occurred. Error was returned from the destination server."},
	3:   {"ERR_DISCONNECTED", "Connection has been disconnected."},
	4:   {"ERR_PROTOCOL_ERROR", "Protocol error occurred."},
	5:   {"ERR_CLIENT_IS_NOT_VPN", "A client which is non-SoftEther VPN software has connected to the port."},
	6:   {"ERR_USER_CANCEL", "The command has been canceled by user."},
	7:   {"ERR_AUTHTYPE_NOT_SUPPORTED", "The server denied the specified auth type."},
	8:   {"ERR_HUB_NOT_FOUND", "The specified Virtual Hub does not exist on the server."},
	9:   {"ERR_AUTH_FAILED", "User authentication failed."},
	10:  {"ERR_HUB_STOPPING", "The specified Virtual Hub is currently stopped. Wait for a while and then reconnect."},
	11:  {"ERR_SESSION_REMOVED", "The VPN session has been deleted. It is possible that either the administrator disconnected the session or the connection from the client to the VPN Server has been disconnected."},
	12:  {"ERR_ACCESS_DENIED", "Access has been denied."},
	13:  {"ERR_SESSION_TIMEOUT", "Time-out occurred during VPN session communication. It is possible the connection from the client to the VPN Server has been disconnected."},
	14:  {"ERR_INVALID_PROTOCOL", "Protocol number is invalid."},
	15:  {"ERR_TOO_MANY_CONNECTION", "There are too many TCP/IP connections."},
	16:  {"ERR_HUB_IS_BUSY", "There are too many sessions connected to either the destination server or Virtual Hub."},
	17:  {"ERR_PROXY_CONNECT_FAILED", "Connection to proxy server failed."},
	18:  {"ERR_PROXY_ERROR", "An error occurred on the proxy server."},
	19:  {"ERR_PROXY_AUTH_FAILED", "User authentication failed on the proxy server."},
	20:  {"ERR_TOO_MANY_USER_SESSION", "There are too many sessions by the same user. Other person might be connected to the Virtual Hub as the same user."},
	21:  {"ERR_LICENSE_ERROR", "A license error occurred on the VPN Server. Contact the VPN Server's administrator."},
	22:  {"ERR_DEVICE_DRIVER_ERROR", "Cannot access the Virtual Network Adapter device driver. Check the Virtual Network Adapter is installed and make sure that it has not been disabled."},
	23:  {"ERR_INTERNAL_ERROR", "An internal error occurred."},
	24:  {"ERR_SECURE_DEVICE_OPEN_FAILED", "Access to either the smart card or USB hardware token device failed."},
	25:  {"ERR_SECURE_PIN_LOGIN_FAILED", "The PIN code is incorrect."},
	26:  {"ERR_SECURE_NO_CERT", "The specified certificate is not stored on either the smart card or the USB hardware token device."},
	27:  {"ERR_SECURE_NO_PRIVATE_KEY", "The specified private key is not stored on either the smart card or the USB hardware token device."},
	28:  {"ERR_SECURE_CANT_WRITE", "Write operation to the smart card or USB hardware token device failed."},
	29:  {"ERR_OBJECT_NOT_FOUND", "Object not found."},
	30:  {"ERR_VLAN_ALREADY_EXISTS", "A Virtual Network Adapter with the specified name already exists. Specify a different name."},
	31:  {"ERR_VLAN_INSTALL_ERROR", "Installation of the Virtual Network Adapter device driver failed."},
	32:  {"ERR_VLAN_INVALID_NAME", "You cannot use the specified name for a Virtual Network Adapter device."},
	33:  {"ERR_NOT_SUPPORTED", "Unsupported."},
	34:  {"ERR_ACCOUNT_ALREADY_EXISTS", "VPN Connection Setting with the specified name already exists."},
	35:  {"ERR_ACCOUNT_ACTIVE", "The specified VPN Connection Setting is currently connected."},
	36:  {"ERR_ACCOUNT_NOT_FOUND", "The specified VPN Connection Setting does not exist."},
	37:  {"ERR_ACCOUNT_INACTIVE", "The specified VPN Connection Setting is not connected."},
	38:  {"ERR_INVALID_PARAMETER", "Invalid parameter."},
	39:  {"ERR_SECURE_DEVICE_ERROR", "Error occurred on smart card or USB hardware token."},
	40:  {"ERR_NO_SECURE_DEVICE_SPECIFIED", "Although authentication of smart card or USB hardware token was selected, but the device to be used has not been selected. Select from the Smart Card menu of Connection Manager."},
	41:  {"ERR_VLAN_IS_USED", "The specified Virtual Network Adapter is being used by at least one VPN Connection Setting.  Either delete the VPN Connection Setting that is using this Virtual Network Adapter or change Virtual Network Adapter that this VPN Connection Setting is using."},
	42:  {"ERR_VLAN_FOR_ACCOUNT_NOT_FOUND", "Cannot find the Virtual Network Adapter that the specified VPN Connection Setting is using.  Make sure this Virtual Network Adapter exists. Also make sure the Virtual Network Adapter device has not been disabled.   If you cannot resolve the problem, either change the Virtual Network Adapter being used by this VPN Connection Setting or create a new Virtual Network Adapter with the same name."},
	43:  {"ERR_VLAN_FOR_ACCOUNT_USED", "The Virtual Network Adapter used by the specified VPN Connection Setting is already being used by another VPN Connection Setting.  If there is another VPN Connection Setting that is using the same Virtual Network Adapter, disconnect that VPN Connection Setting."},
	44:  {"ERR_VLAN_FOR_ACCOUNT_DISABLED", "The Virtual Network Adapter being used by the specified VPN Connection Setting has been disabled.  Before using this VPN Connection Setting, enable the Virtual Network Adapter."},
	45:  {"ERR_INVALID_VALUE", "The specified value is invalid."},
	46:  {"ERR_NOT_FARM_CONTROLLER", "The connection destination is not a cluster controller."},
	47:  {"ERR_TRYING_TO_CONNECT", "Trying to connect."},
	48:  {"ERR_CONNECT_TO_FARM_CONTROLLER", "Connection to the cluster controller failed."},
	49:  {"ERR_COULD_NOT_HOST_HUB_ON_FARM", "The cluster controller was unable to assign a new session on a cluster."},
	50:  {"ERR_FARM_MEMBER_HUB_ADMIN", "Unable to manage the Virtual Hub of the cluster member server."},
	51:  {"ERR_NULL_PASSWORD_LOCAL_ONLY", "The user's password used to connect was blank so the connection from remote is prohibited. Blank password can be allowed only to connections from the VPN Server's localhost (127.0.0.1)."},
	52:  {"ERR_NOT_ENOUGH_RIGHT", "Not enough privileges."},
	53:  {"ERR_LISTENER_NOT_FOUND", "Specified listener not found."},
	54:  {"ERR_LISTENER_ALREADY_EXISTS", "The listener of the specified port number already exists."},
	55:  {"ERR_NOT_FARM_MEMBER", "This is not a cluster member server."},
	56:  {"ERR_CIPHER_NOT_SUPPORTED", "The specified encryption algorithm name is not supported."},
	57:  {"ERR_HUB_ALREADY_EXISTS", "The Virtual Hub with the specified name already exists on the server."},
	58:  {"ERR_TOO_MANY_HUBS", "There are too many registered Virtual Hubs. No more can be created. Delete the old Virtual Hubs."},
	59:  {"ERR_LINK_ALREADY_EXISTS", "The Cascade Connection with the specified name already exists."},
	60:  {"ERR_LINK_CANT_CREATE_ON_FARM", "A Cascade Connection cannot be created on a server on a cluster."},
	61:  {"ERR_LINK_IS_OFFLINE", "The specified Cascade Connection is offline."},
	62:  {"ERR_TOO_MANY_ACCESS_LIST", "There are too many access lists."},
	63:  {"ERR_TOO_MANY_USER", "There are too many users."},
	64:  {"ERR_TOO_MANY_GROUP", "There are too many groups."},
	65:  {"ERR_GROUP_NOT_FOUND", "The specified group does not exist."},
	66:  {"ERR_USER_ALREADY_EXISTS", "The user with the specified name already exists on the Virtual Hub."},
	67:  {"ERR_GROUP_ALREADY_EXISTS", "The group with the specified name already exists on the Virtual Hub."},
	68:  {"ERR_USER_AUTHTYPE_NOT_PASSWORD", "A user with the specified name exists on the server but the type of authentication is not password authentication. Unable to change the password."},
	69:  {"ERR_OLD_PASSWORD_WRONG", "The user name or old password you entered is incorrect. Note that the password is case-sensitive."},
	73:  {"ERR_LINK_CANT_DISCONNECT", "Unable to disconnect the Cascade Connection's session. To delete the session, stop the Cascade Connection."},
	74:  {"ERR_ACCOUNT_NOT_PRESENT", "The VPN Connection Setting for connection with the VPN Server is incomplete. At first you have to complete the VPN Connection Setting for connection with the VPN Server."},
	75:  {"ERR_ALREADY_ONLINE", "VPN Connection to the VPN Server has already started."},
	76:  {"ERR_OFFLINE", "Not connected to the VPN Server."},
	77:  {"ERR_NOT_RSA_1024", "The specified X509 certificate file does not contain a RSA 1024 bit or 2048 bit public key. SoftEther VPN software supports only RSA 1024 bit or 2048 bit certificates."},
	78:  {"ERR_SNAT_CANT_DISCONNECT", "Unable to disconnect the SecureNAT session. To delete the session, stop the SecureNAT function."},
	79:  {"ERR_SNAT_NEED_STANDALONE", "Cannot enable the SecureNAT in a clustering environment."},
	80:  {"ERR_SNAT_NOT_RUNNING", "The SecureNAT is not operating."},
	81:  {"ERR_SE_VPN_BLOCK", "This VPN Connection session to the VPN Server has been disconnected by the firewall device installed by the network administrator. Contact the network administrator."},
	82:  {"ERR_BRIDGE_CANT_DISCONNECT", "Unable to disconnect the Local Bridge session. To delete the session, stop the Local Bridge."},
	83:  {"ERR_LOCAL_BRIDGE_STOPPING", "The Local Bridge is not operating."},
	84:  {"ERR_LOCAL_BRIDGE_UNSUPPORTED", "Local Bridge cannot be used by the destination VPN Server. Refer to online help or other documentation for the setting method when using Local Bridge on the VPN Server you are using."},
	85:  {"ERR_CERT_NOT_TRUSTED", "Unable to trust the certificate provided by the destination server. The setting to always verify the server certificate is enabled in the VPN Connection Settings. Either register a root certificate that can be trusted or register a individual certificate."},
	86:  {"ERR_PRODUCT_CODE_INVALID", "The product code of the destination server is incorrect. It is not possible to connect from this client."},
	87:  {"ERR_VERSION_INVALID", "The client and server version is different. Update the software."},
	88:  {"ERR_CAPTURE_DEVICE_ADD_ERROR", "Failed to add a capture device. A same capture device might be already registered."},
	89:  {"ERR_VPN_CODE_INVALID", "Unable to connect to the destination server from this client. A special client software is required."},
	90:  {"ERR_CAPTURE_NOT_FOUND", "The specified capture device is not registered."},
	91:  {"ERR_LAYER3_CANT_DISCONNECT", "Unable to disconnect the Virtual Layer 3 Switch session. To delete the session, stop the Virtual Layer 3 Switch."},
	92:  {"ERR_LAYER3_SW_EXISTS", "A Virtual Layer 3 Switch with the specified name already exists. Specify a different name."},
	93:  {"ERR_LAYER3_SW_NOT_FOUND", "Specified Virtual Layer 3 Switch not found."},
	94:  {"ERR_INVALID_NAME", "The specified name is invalid. Check if the name contains characters that cannot be used."},
	95:  {"ERR_LAYER3_IF_ADD_FAILED", "Failed to add the Virtual Layer 3 interface. Please check that the parameters are valid. Also please make sure that the Virtual Layer 3 switch is stopped. Adding or deleting interfaces are unable when the Virtual Layer 3 switch is running."},
	96:  {"ERR_LAYER3_IF_DEL_FAILED", "Failed to delete the Virtual Layer 3 interface. Please check that the parameters are valid. Also please make sure that the Virtual Layer 3 switch is stopped. Adding or deleting interfaces are unable when the Virtual Layer 3 switch is running."},
	97:  {"ERR_LAYER3_IF_EXISTS", "The Virtual Layer 3 interface that is connecting to the destination Virtual Hub of the specified Virtual Layer 3 interface already exists in the Virtual Layer 3 Switch. No more than one Virtual Layer 3 interface that connects to the same Virtual Hub can be defined in a Virtual Layer 3 Switch."},
	98:  {"ERR_LAYER3_TABLE_ADD_FAILED", "Failed to add routing table entry. Please check that the parameters are valid. Also please make sure that the Virtual Layer 3 switch is stopped. Adding or deleting routing table entries are unable when the Virtual Layer 3 switch is running."},
	99:  {"ERR_LAYER3_TABLE_DEL_FAILED", "Failed to delete routing table entry. Please check that the parameters are valid. Also please make sure that the Virtual Layer 3 switch is stopped. Adding or deleting routing table entries are unable when the Virtual Layer 3 switch is running."},
	100: {"ERR_LAYER3_TABLE_EXISTS", "The specified routing table entry already exists."},
	101: {"ERR_BAD_CLOCK", "The client clock and the server clock are not synchronized with each other. Check the time settings."},
	102: {"ERR_LAYER3_CANT_START_SWITCH", "Unable to start this Virtual Layer 3 Switch.   To start the Virtual Layer 3 Switch, at least 1 virtual interface must be defined in the Virtual Layer 3 Switch."},
	103: {"ERR_CLIENT_LICENSE_NOT_ENOUGH", "Not enough Client Connection Licenses on the destination VPN Server. Contact the server administrator."},
	104: {"ERR_BRIDGE_LICENSE_NOT_ENOUGH", "Not enough Bridge Connection Licenses on the destination VPN Server. Contact the server administrator."},
	105: {"ERR_SERVER_CANT_ACCEPT", "Due to current technical difficulties, the destination VPN Server is not receiving the connection. Either wait a while, or contact the VPN Server administrator requesting that the server log file be checked."},
	106: {"ERR_SERVER_CERT_EXPIRES", "The destination VPN Server's certificate has expired. Contact the VPN Server's administrator."},
	107: {"ERR_MONITOR_MODE_DENIED", "A connection has beens requested in Monitoring Mode. But the security policy for the connecting user does not permit Monitoring Mode."},
	108: {"ERR_BRIDGE_MODE_DENIED", "A connection has been requested in Bridge / Router Mode. But the security policy for the connecting user forbids both bridge mode and router mode."},
	109: {"ERR_IP_ADDRESS_DENIED", "A connection from a client IP address has been denied by the Source IP Restriction List of the Virtual Hub."},
	110: {"ERR_TOO_MANT_ITEMS", "There are too many items."},
	111: {"ERR_MEMORY_NOT_ENOUGH", "Out of memory."},
	112: {"ERR_OBJECT_EXISTS", "The specified object already exists."},
	113: {"ERR_FATAL", "A fatal error occurred. It is possible that the program operation is unable to continue."},
	114: {"ERR_SERVER_LICENSE_FAILED", "The destination VPN Server has detected a software license violation. Connection is refused. Contact the VPN Server's administrator."},
	115: {"ERR_SERVER_INTERNET_FAILED", "The destination VPN Server has connected via the Internet to an important server provided by SoftEther VPN Project and cannot validate a license. Either wait a while, or contact the VPN Server administrator requesting that the server log file and the Internet connection status of the server itself be checked."},
	116: {"ERR_CLIENT_LICENSE_FAILED", "A software license violation has been detected on the client side. Connection is refused."},
	117: {"ERR_BAD_COMMAND_OR_PARAM", "The command or file name is incorrect."},
	118: {"ERR_INVALID_LICENSE_KEY", "The license key is incorrect."},
	119: {"ERR_NO_VPN_SERVER_LICENSE", "No valid product license is registered on the VPN Server. Contact the VPN Server's administrator."},
	120: {"ERR_NO_VPN_CLUSTER_LICENSE", "The product license required for the VPN Server to operate as a cluster is not registered. Contact the VPN Server's administrator."},
	121: {"ERR_NOT_ADMINPACK_SERVER", "This VPN Connection Setting has been installed using the \"Web Installer Creation Kit\" or \"Simple Installer Creation Kit\". The destination server is not an edition that supports the SoftEther VPN 2.0 Administration Pack. Contact the system administrator or person who created the installer."},
	122: {"ERR_NOT_ADMINPACK_SERVER_NET", "With the VPN Server SDK for .NET, it is only possible to connect to the SoftEther VPN Server edition that supports the SoftEther VPN 2.0 Administration Pack. The destination VPN Server is not an edition that supports the SoftEther VPN 2.0 Administration Pack. Contact the system administrator."},
	123: {"ERR_BETA_EXPIRES", "Beta Version Software on the destination server is expired. Contact to system administrator of the server to download a new beta version or full version from http://selinks.org/."},
	124: {"ERR_BRANDED_C_TO_S", "The VPN connection to VPN Server is refused at server side."},
	125: {"ERR_BRANDED_C_FROM_S", "The VPN connection to VPN Server is refused at client side."},
	126: {"ERR_AUTO_DISCONNECTED", "The security policy enforced the VPN session to disconnect automatically because the specific time has been elapsed. If you wish to continue please re-connect."},
	127: {"ERR_CLIENT_ID_REQUIRED", "The VPN Server requires the special-version VPN Client software. Consult with the administrator."},
	128: {"ERR_TOO_MANY_USERS_CREATED", "The number of registered user objects exceeds the maximum number which is allowed the product license applied on the VPN Server. You cannot add user objects anymore unless you delete old one, or upgrade the edition of the product."},
	129: {"ERR_SUBSCRIPTION_IS_OLDER", "The subscription contract has already expired before the release-date of this version of VPN Server. The customer has been authorized to use VPN Server's builds only in the period of the subscription contract. The customer has to extend the period of the subscription. The customer also be able to 'downgrade' the version of VPN Server to older version which has released before the end of the subscription. If you want to downgrade the version, older versions might be available on http://selinks.org/."},
	130: {"ERR_ILLEGAL_TRIAL_VERSION", "We are afraid that the trial license keys cannot be obtained frequently by the same customer. Please consider to purchase the product version."},
	131: {"ERR_NAT_T_TWO_OR_MORE", "Several VPN Servers on the same IP address. You can specify the destination server's private IP or hostname concretely such as \"Global IP address or host name/192.168.x.x\". Or if a NAT is used on the server's side, configure the NAT to open, relay or transfer appropriate ports."},
	132: {"ERR_DUPLICATE_DDNS_KEY", "The key for Dynamic DNS Service duplicates to others. The key will be reset automatically."},
	133: {"ERR_DDNS_HOSTNAME_EXISTS", "The specified Dynamic DNS hostname is already used. Please change the hostname."},
	134: {"ERR_DDNS_HOSTNAME_INVALID_CHAR", "The specified Dynamic DNS hostname has an invalid characters. Please change the hostname."},
	135: {"ERR_DDNS_HOSTNAME_TOO_LONG", "The length of the specified Dynamic DNS hostname is too long. A hostname must be equal or shorter than 31 letters."},
	136: {"ERR_DDNS_HOSTNAME_IS_EMPTY", "The Dynamic DNS hostname is not specified."},
	137: {"ERR_DDNS_HOSTNAME_TOO_SHORT", "The length of the specified Dynamic DNS hostname is too long. A hostname must be equal of longer than 3 letters."},
	138: {"ERR_MSCHAP2_PASSWORD_NEED_RESET", "The password of the specified user in the Virtual Hub must be reset before using MS-CHAP v2 authentication. Please ask the administrator of the VPN Server to reset the password by the VPN Server Manager or vpncmd which internal version is 4.0 or greater. Or you can change the password with VPN Client by yourself."},
	139: {"ERR_DDNS_DISCONNECTED", "The connection to the Dynamic DNS server has been disconnected."},
	140: {"ERR_SPECIAL_LISTENER_ICMP_ERROR", "Failed to initialize the ICMP (Ping) protocol. The process of the VPN Server might be running in a normal-user privileges. In such case, run the VPN Server as a system service. (in Linux / UNIX, run it in root privileges.)"},
	141: {"ERR_SPECIAL_LISTENER_DNS_ERROR", "Failed to open the DNS port 53. Make sure that there are no other DNS server program (for example, BIND or Microsoft DNS Server) on the same computer. If there are conflicting services stop them. Or run the VPN Server's process in root privileges on Linux / UNIX/"},
	142: {"ERR_OPENVPN_IS_NOT_ENABLED", "The OpenVPN Server function is not enabled."},
	143: {"ERR_NOT_SUPPORTED_AUTH_ON_OPENSOURCE", "The Certificate Authentication function and the External Server Authentication function have not been implemented on the open-source version of SoftEther VPN yet. Choose either Anonymous Authentication or Password Authentication instead."},
	144: {"ERR_VPNGATE", "Unacceptable operation. Use the VPN Gate Control Panel to change the VPN Gate Relay Server settings."},
	145: {"ERR_VPNGATE_CLIENT", "Unacceptable operation. Use the VPN Gate Utility to modify the connection setting for VPN Gate Public VPN Relay Servers."},
	146: {"ERR_VPNGATE_INCLIENT_CANT_STOP", "The VPN Gate Service is running inside the VPN Client program. You cannot stop the VPN Gate Service on this screen. Use the VPN Client Manager to enable or disable the VPN Gate Service."},
	147: {"ERR_NOT_SUPPORTED_FUNCTION_ON_OPENSOURCE", "This feature is not supported. It hasn't been implemented yet on the open-source version of SoftEther VPN."},
	148: {"ERR_SUSPENDING", "The VPN connection was disconnected because the system is being suspended."},
	149: {"ERR_HOSTNAME_MISMATCH", "The destination VPN Server's certificate does not match the specified hostname."},
	150: {"ERR_SSL_PROTOCOL_VERSION", "Failed to find the TLS version that is supported by both sides. This usually means that one side may be using an obsolete TLS version which is diabled by the other side."},
	151: {"ERR_SSL_SHARED_CIPHER", "Failed to find an available cipher that is supported by both sides, or the cipher specified is not compatible with the server certificate."},
	152: {"ERR_SSL_HANDSHAKE", "TLS handshake has failed."},
}
