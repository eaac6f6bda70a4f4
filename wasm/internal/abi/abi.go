// Package abi holds the constants that the WASI module and its Go host must
// agree on (wasm/ABI.md), so that they are written once.
package abi

// Message metadata field tags (ABI.md, "Message metadata").
const (
	TagKey                = 1
	TagOrderingKey        = 2
	TagProperty           = 3
	TagEventTime          = 4
	TagDeliverAt          = 5
	TagDeliverAfter       = 6
	TagSequenceID         = 7
	TagNullValue          = 8
	TagReplicationCluster = 9
	TagDisableReplication = 10
)
