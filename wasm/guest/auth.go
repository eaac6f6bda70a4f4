// Credentials: what CONNECT carries, and answers to the broker's
// AUTH_CHALLENGE.
//
// How this works: the host gets credentials (a token, from a file or a
// supplier; OAuth2) outside the module, which has no clock, files or
// network, and hands them over with ppw_set_credentials before it reports a
// connection open. When a broker's copy of them expires it sends
// AUTH_CHALLENGE: the engine emits an AuthChallenge event (record kind 9),
// the host gets fresh credentials without blocking the module, and answers
// with ppw_answer_challenge, which writes AUTH_RESPONSE on that connection
// and keeps the credentials for later CONNECTs. Both copy their input (the
// engine keeps its own copy). Credentials never appear in an error or a
// log record: errors about the arguments name them only by pointer and
// length.
package main

import "github.com/pulsar-producer/pulsar-producer/core/engine"

//go:wasmexport ppw_set_credentials
func ppSetCredentials(methodPtr, methodLen, dataPtr, dataLen uint32) (code int32) {
	defer finish(&code)
	if eng == nil {
		return noClient()
	}
	method, data, err := credentials(methodPtr, methodLen, dataPtr, dataLen)
	if err != nil {
		return fail(err)
	}
	eng.SetCredentials(method, data)
	return 0
}

//go:wasmexport ppw_answer_challenge
func ppAnswerChallenge(conn uint64, methodPtr, methodLen, dataPtr, dataLen uint32, nowNs int64) (code int32) {
	defer finish(&code)
	if eng == nil {
		return noClient()
	}
	method, data, err := credentials(methodPtr, methodLen, dataPtr, dataLen)
	if err != nil {
		return fail(err)
	}
	eng.AnswerChallenge(engine.ConnID(conn), method, data, timeOf(nowNs))
	return 0
}

// credentials reads the method and data arguments; data of length 0 is
// nil (no data).
func credentials(methodPtr, methodLen, dataPtr, dataLen uint32) (string, []byte, error) {
	method, err := hostString("authentication method", methodPtr, methodLen)
	if err != nil {
		return "", nil, err
	}
	data, err := hostBytes("authentication data", dataPtr, dataLen)
	return method, data, err
}
