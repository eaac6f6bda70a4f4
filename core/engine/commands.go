// Control commands, encoded and decoded by hand.
//
// Besides SEND and SEND_RECEIPT (wire.go), a producer exchanges a dozen
// small commands: the handshake, lookups, registration, closes, pings. They
// are rare, so speed is not the reason to hand-write them: size is. Without
// them the engine would link the protobuf runtime, which is most of the WASI
// module. Every BaseCommand carries its type in field 1 and its body in the
// field whose number equals the type; the builders below append whole
// frames, and the decoders read only the fields the engine uses, ignoring
// the rest as protobuf requires. commands_test.go checks each against the
// generated code in core/pb.
package engine

import (
	"encoding/binary"
	"errors"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// cmdType is a BaseCommand type. These values are the protocol's.
type cmdType int32

const (
	cmdConnect                     cmdType = 2
	cmdConnected                   cmdType = 3
	cmdProducer                    cmdType = 5
	cmdSend                        cmdType = 6
	cmdSendReceipt                 cmdType = 7
	cmdSendError                   cmdType = 8
	cmdSuccess                     cmdType = 13
	cmdError                       cmdType = 14
	cmdCloseProducer               cmdType = 15
	cmdProducerSuccess             cmdType = 17
	cmdPing                        cmdType = 18
	cmdPong                        cmdType = 19
	cmdPartitionedMetadata         cmdType = 21
	cmdPartitionedMetadataResponse cmdType = 22
	cmdLookup                      cmdType = 23
	cmdLookupResponse              cmdType = 24
	cmdAuthChallenge               cmdType = 36
	cmdAuthResponse                cmdType = 37
	cmdTopicMigrated               cmdType = 68
)

// cmdNames names every command type the protocol defines, so that a type
// this producer does not expect can be told from one that does not exist.
var cmdNames = map[cmdType]string{
	2: "CONNECT", 3: "CONNECTED", 4: "SUBSCRIBE", 5: "PRODUCER", 6: "SEND", 7: "SEND_RECEIPT",
	8: "SEND_ERROR", 9: "MESSAGE", 10: "ACK", 11: "FLOW", 12: "UNSUBSCRIBE", 13: "SUCCESS",
	14: "ERROR", 15: "CLOSE_PRODUCER", 16: "CLOSE_CONSUMER", 17: "PRODUCER_SUCCESS", 18: "PING",
	19: "PONG", 20: "REDELIVER_UNACKNOWLEDGED_MESSAGES", 21: "PARTITIONED_METADATA",
	22: "PARTITIONED_METADATA_RESPONSE", 23: "LOOKUP", 24: "LOOKUP_RESPONSE", 25: "CONSUMER_STATS",
	26: "CONSUMER_STATS_RESPONSE", 27: "REACHED_END_OF_TOPIC", 28: "SEEK", 29: "GET_LAST_MESSAGE_ID",
	30: "GET_LAST_MESSAGE_ID_RESPONSE", 31: "ACTIVE_CONSUMER_CHANGE", 32: "GET_TOPICS_OF_NAMESPACE",
	33: "GET_TOPICS_OF_NAMESPACE_RESPONSE", 34: "GET_SCHEMA", 35: "GET_SCHEMA_RESPONSE",
	36: "AUTH_CHALLENGE", 37: "AUTH_RESPONSE", 38: "ACK_RESPONSE", 39: "GET_OR_CREATE_SCHEMA",
	40: "GET_OR_CREATE_SCHEMA_RESPONSE", 50: "NEW_TXN", 51: "NEW_TXN_RESPONSE",
	52: "ADD_PARTITION_TO_TXN", 53: "ADD_PARTITION_TO_TXN_RESPONSE", 54: "ADD_SUBSCRIPTION_TO_TXN",
	55: "ADD_SUBSCRIPTION_TO_TXN_RESPONSE", 56: "END_TXN", 57: "END_TXN_RESPONSE",
	58: "END_TXN_ON_PARTITION", 59: "END_TXN_ON_PARTITION_RESPONSE", 60: "END_TXN_ON_SUBSCRIPTION",
	61: "END_TXN_ON_SUBSCRIPTION_RESPONSE", 62: "TC_CLIENT_CONNECT_REQUEST",
	63: "TC_CLIENT_CONNECT_RESPONSE", 64: "WATCH_TOPIC_LIST", 65: "WATCH_TOPIC_LIST_SUCCESS",
	66: "WATCH_TOPIC_UPDATE", 67: "WATCH_TOPIC_LIST_CLOSE", 68: "TOPIC_MIGRATED",
}

func (t cmdType) String() string {
	if name, ok := cmdNames[t]; ok {
		return name
	}
	return "type " + strconv.Itoa(int(t))
}

// serverError is the broker's ServerError enum; the values are the
// protocol's.
type serverError int32

const (
	seUnknownError         serverError = 0
	seMetadataError        serverError = 1
	sePersistenceError     serverError = 2
	seAuthenticationError  serverError = 3
	seAuthorizationError   serverError = 4
	seServiceNotReady      serverError = 6
	seQuotaExceededError   serverError = 7
	seQuotaExceededExcept  serverError = 8
	seChecksumError        serverError = 9
	seUnsupportedVersion   serverError = 10
	seTopicNotFound        serverError = 11
	seTooManyRequests      serverError = 14
	seTopicTerminatedError serverError = 15
	seProducerBusy         serverError = 16
	seInvalidTopicName     serverError = 17
	seIncompatibleSchema   serverError = 18
	seNotAllowedError      serverError = 22
	seProducerFenced       serverError = 25
	serverErrorCount                   = 26
)

// Enum values of the replies the engine reads.
const (
	lookupRedirect        = 0 // CommandLookupTopicResponse.response
	lookupConnect         = 1
	lookupFailed          = 2
	metadataFailed        = 1 // CommandPartitionedTopicMetadataResponse.response
	topicMigratedProducer = 0 // CommandTopicMigrated.resource_type
)

var serverErrorNames = [serverErrorCount]string{
	"UnknownError", "MetadataError", "PersistenceError", "AuthenticationError", "AuthorizationError",
	"ConsumerBusy", "ServiceNotReady", "ProducerBlockedQuotaExceededError",
	"ProducerBlockedQuotaExceededException", "ChecksumError", "UnsupportedVersionError", "TopicNotFound",
	"SubscriptionNotFound", "ConsumerNotFound", "TooManyRequests", "TopicTerminatedError", "ProducerBusy",
	"InvalidTopicName", "IncompatibleSchema", "ConsumerAssignError", "TransactionCoordinatorNotFound",
	"InvalidTxnStatus", "NotAllowedError", "TransactionConflict", "TransactionNotFound", "ProducerFenced",
}

func (s serverError) String() string {
	if s >= 0 && s < serverErrorCount {
		return serverErrorNames[s]
	}
	return "ServerError(" + strconv.Itoa(int(s)) + ")"
}

// appendFrame appends a frame holding BaseCommand{type: t, <t>: body}.
func appendFrame(b []byte, t cmdType, body []byte) []byte {
	size := 1 + protowire.SizeVarint(uint64(t))
	if body != nil {
		size += protowire.SizeTag(protowire.Number(t)) + protowire.SizeBytes(len(body))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(4+size))
	b = binary.BigEndian.AppendUint32(b, uint32(size))
	b = appendVarintField(b, 1, uint64(t))
	if body != nil {
		b = protowire.AppendTag(b, protowire.Number(t), protowire.BytesType)
		b = protowire.AppendBytes(b, body)
	}
	return b
}

// The outgoing commands. Each appends one whole frame to b; body is a
// scratch buffer the caller owns.

// appendConnect appends CONNECT: the credentials (method and data; none
// when method is empty), and the broker a proxy should forward to.
func appendConnect(b []byte, method string, data []byte, proxyTo string) []byte {
	m := appendStringField(make([]byte, 0, 64+len(method)+len(data)+len(proxyTo)), 1, ClientVersion)
	if method != "" {
		m = appendBytesField(m, 3, data)
	}
	m = appendVarintField(m, 4, uint64(protocolVersion))
	if method != "" {
		m = appendStringField(m, 5, method)
	}
	if proxyTo != "" {
		m = appendStringField(m, 6, proxyTo)
	}
	m = appendBytesField(m, 10, []byte{1 << 3, 1}) // feature_flags{supports_auth_refresh: true}
	return appendFrame(b, cmdConnect, m)
}

func appendPing(b []byte) []byte { return appendFrame(b, cmdPing, []byte{}) }

func appendPong(b []byte) []byte { return appendFrame(b, cmdPong, []byte{}) }

// appendAuthResponse answers an AUTH_CHALLENGE with credentials; a client
// without any says so with the "none" method.
func appendAuthResponse(b []byte, method string, data []byte) []byte {
	if method == "" {
		method = "none"
	}
	auth := appendStringField(make([]byte, 0, 16+len(method)+len(data)), 1, method)
	if data != nil {
		auth = appendBytesField(auth, 2, data)
	}
	m := appendStringField(make([]byte, 0, 32+len(auth)), 1, ClientVersion)
	m = appendBytesField(m, 2, auth)
	m = appendVarintField(m, 3, uint64(protocolVersion))
	return appendFrame(b, cmdAuthResponse, m)
}

func appendPartitionedMetadata(b []byte, topic string, requestID uint64) []byte {
	m := appendStringField(make([]byte, 0, len(topic)+16), 1, topic)
	m = appendVarintField(m, 2, requestID)
	return appendFrame(b, cmdPartitionedMetadata, m)
}

func appendLookup(b []byte, topic string, requestID uint64, authoritative bool, listener string) []byte {
	m := appendStringField(make([]byte, 0, len(topic)+len(listener)+24), 1, topic)
	m = appendVarintField(m, 2, requestID)
	m = appendVarintField(m, 3, boolVarint(authoritative))
	if listener != "" {
		m = appendStringField(m, 7, listener)
	}
	return appendFrame(b, cmdLookup, m)
}

// producerCmd is what a PRODUCER command says.
type producerCmd struct {
	topic            string
	producerID       uint64
	requestID        uint64
	name             string // empty: let the broker choose
	userProvidedName bool
	epoch            uint64
	accessMode       AccessMode
	topicEpoch       *uint64
	properties       map[string]string
	schema           *Schema // nil or BYTES: none
}

func appendProducer(b []byte, p *producerCmd) []byte {
	m := appendStringField(make([]byte, 0, 64+len(p.topic)+len(p.name)), 1, p.topic)
	m = appendVarintField(m, 2, p.producerID)
	m = appendVarintField(m, 3, p.requestID)
	if p.name != "" {
		m = appendStringField(m, 4, p.name)
	}
	m = appendProperties(m, 6, p.properties)
	m = appendVarintField(m, 8, p.epoch)
	m = appendVarintField(m, 9, boolVarint(p.userProvidedName))
	if p.accessMode != AccessShared {
		m = appendVarintField(m, 10, uint64(p.accessMode))
	}
	if p.topicEpoch != nil {
		m = appendVarintField(m, 11, *p.topicEpoch)
	}
	if p.schema != nil && p.schema.Type != SchemaBytes {
		m = appendSchema(m, 7, p.schema)
	}
	return appendFrame(b, cmdProducer, m)
}

func appendCloseProducer(b []byte, producerID, requestID uint64) []byte {
	var body [24]byte
	m := appendVarintField(body[:0], 1, producerID)
	m = appendVarintField(m, 2, requestID)
	return appendFrame(b, cmdCloseProducer, m)
}

func boolVarint(v bool) uint64 {
	if v {
		return 1
	}
	return 0
}

var errNoType = errors.New("command has no type")

// decodeCommand finds a BaseCommand's type and body (the field numbered as
// the type; nil when absent). Fields may come in any order.
func decodeCommand(b []byte) (cmdType, []byte, error) {
	var t cmdType
	err := fields(b, func(r *reader, num protowire.Number, typ protowire.Type) {
		if num == 1 && typ == protowire.VarintType {
			t = cmdType(r.varint())
			return
		}
		r.skip(num, typ)
	})
	if err != nil {
		return 0, nil, err
	}
	if t == 0 {
		return 0, nil, errNoType
	}
	var body []byte
	err = fields(b, func(r *reader, num protowire.Number, typ protowire.Type) {
		if num == protowire.Number(t) && typ == protowire.BytesType {
			body = r.bytes()
			return
		}
		r.skip(num, typ)
	})
	return t, body, err
}

// fields walks the fields of a message; each visit is called with a reader
// positioned at the field's value, which it must consume (or skip).
func fields(b []byte, visit func(r *reader, num protowire.Number, typ protowire.Type)) error {
	r := reader{b: b}
	for r.more() {
		num, typ := r.tag()
		if r.err != nil {
			break
		}
		visit(&r, num, typ)
	}
	return r.err
}

// The incoming commands, with the fields the engine reads.

type connectedCmd struct {
	serverVersion   string
	protocolVersion int32
	maxMessageSize  int32
}

func decodeConnected(b []byte) (m connectedCmd, err error) {
	err = fields(b, func(r *reader, num protowire.Number, typ protowire.Type) {
		switch {
		case num == 1 && typ == protowire.BytesType:
			m.serverVersion = string(r.bytes())
		case num == 2 && typ == protowire.VarintType:
			m.protocolVersion = int32(r.varint())
		case num == 3 && typ == protowire.VarintType:
			m.maxMessageSize = int32(r.varint())
		default:
			r.skip(num, typ)
		}
	})
	return m, err
}

// responseCmd holds the fields shared by the replies to requests.
type responseCmd struct {
	requestID    uint64
	hasRequestID bool
	err          serverError
	hasErr       bool
	message      string
}

type metadataResponseCmd struct {
	responseCmd
	partitions uint32
	failed     bool
}

func decodeMetadataResponse(b []byte) (m metadataResponseCmd, err error) {
	err = fields(b, func(r *reader, num protowire.Number, typ protowire.Type) {
		switch {
		case num == 1 && typ == protowire.VarintType:
			m.partitions = uint32(r.varint())
		case num == 2 && typ == protowire.VarintType:
			m.requestID, m.hasRequestID = r.varint(), true
		case num == 3 && typ == protowire.VarintType:
			m.failed = r.varint() == metadataFailed
		case num == 4 && typ == protowire.VarintType:
			m.err, m.hasErr = serverError(r.varint()), true
		case num == 5 && typ == protowire.BytesType:
			m.message = string(r.bytes())
		default:
			r.skip(num, typ)
		}
	})
	return m, requireRequestID(err, m.hasRequestID)
}

type lookupResponseCmd struct {
	responseCmd
	brokerURL     string
	brokerURLTLS  string
	response      uint64
	authoritative bool
	proxyThrough  bool // proxy_through_service_url
}

func decodeLookupResponse(b []byte) (m lookupResponseCmd, err error) {
	err = fields(b, func(r *reader, num protowire.Number, typ protowire.Type) {
		switch {
		case num == 1 && typ == protowire.BytesType:
			m.brokerURL = string(r.bytes())
		case num == 2 && typ == protowire.BytesType:
			m.brokerURLTLS = string(r.bytes())
		case num == 8 && typ == protowire.VarintType:
			m.proxyThrough = r.varint() != 0
		case num == 3 && typ == protowire.VarintType:
			m.response = r.varint()
		case num == 4 && typ == protowire.VarintType:
			m.requestID, m.hasRequestID = r.varint(), true
		case num == 5 && typ == protowire.VarintType:
			m.authoritative = r.varint() != 0
		case num == 6 && typ == protowire.VarintType:
			m.err, m.hasErr = serverError(r.varint()), true
		case num == 7 && typ == protowire.BytesType:
			m.message = string(r.bytes())
		default:
			r.skip(num, typ)
		}
	})
	return m, requireRequestID(err, m.hasRequestID)
}

type producerSuccessCmd struct {
	requestID     uint64
	hasRequestID  bool
	name          string
	lastSeq       int64
	topicEpoch    *uint64
	ready         bool
	schemaVersion []byte
}

func decodeProducerSuccess(b []byte) (m producerSuccessCmd, err error) {
	m.lastSeq, m.ready = -1, true // the protocol's defaults
	err = fields(b, func(r *reader, num protowire.Number, typ protowire.Type) {
		switch {
		case num == 1 && typ == protowire.VarintType:
			m.requestID, m.hasRequestID = r.varint(), true
		case num == 2 && typ == protowire.BytesType:
			m.name = string(r.bytes())
		case num == 3 && typ == protowire.VarintType:
			m.lastSeq = int64(r.varint())
		case num == 4 && typ == protowire.BytesType:
			m.schemaVersion = append([]byte(nil), r.bytes()...)
		case num == 5 && typ == protowire.VarintType:
			te := r.varint()
			m.topicEpoch = &te
		case num == 6 && typ == protowire.VarintType:
			m.ready = r.varint() != 0
		default:
			r.skip(num, typ)
		}
	})
	return m, requireRequestID(err, m.hasRequestID)
}

// decodeResponse reads SUCCESS and ERROR: request_id 1, error 2, message 3.
func decodeResponse(b []byte) (m responseCmd, err error) {
	err = fields(b, func(r *reader, num protowire.Number, typ protowire.Type) {
		switch {
		case num == 1 && typ == protowire.VarintType:
			m.requestID, m.hasRequestID = r.varint(), true
		case num == 2 && typ == protowire.VarintType:
			m.err, m.hasErr = serverError(r.varint()), true
		case num == 3 && typ == protowire.BytesType:
			m.message = string(r.bytes())
		default:
			r.skip(num, typ)
		}
	})
	return m, requireRequestID(err, m.hasRequestID)
}

type sendErrorCmd struct {
	producerID uint64
	seq        int64
	err        serverError
	message    string
}

func decodeSendError(b []byte) (m sendErrorCmd, err error) {
	err = fields(b, func(r *reader, num protowire.Number, typ protowire.Type) {
		switch {
		case num == 1 && typ == protowire.VarintType:
			m.producerID = r.varint()
		case num == 2 && typ == protowire.VarintType:
			m.seq = int64(r.varint())
		case num == 3 && typ == protowire.VarintType:
			m.err = serverError(r.varint())
		case num == 4 && typ == protowire.BytesType:
			m.message = string(r.bytes())
		default:
			r.skip(num, typ)
		}
	})
	return m, err
}

// redirectCmd reads CLOSE_PRODUCER (producer 1, assigned broker 3) and
// TOPIC_MIGRATED (resource 1, resource type 2, broker 3).
type redirectCmd struct {
	id           uint64
	resourceType uint64
	brokerURL    string
	brokerURLTLS string
}

func decodeRedirect(b []byte, resourceTypeField protowire.Number) (m redirectCmd, err error) {
	err = fields(b, func(r *reader, num protowire.Number, typ protowire.Type) {
		switch {
		case num == 1 && typ == protowire.VarintType:
			m.id = r.varint()
		case num == resourceTypeField && typ == protowire.VarintType:
			m.resourceType = r.varint()
		case num == 3 && typ == protowire.BytesType:
			m.brokerURL = string(r.bytes())
		case num == 4 && typ == protowire.BytesType:
			m.brokerURLTLS = string(r.bytes())
		default:
			r.skip(num, typ)
		}
	})
	return m, err
}

var errNoRequestID = errors.New("reply lacks its request_id")

func requireRequestID(err error, have bool) error {
	if err == nil && !have {
		return errNoRequestID
	}
	return err
}
