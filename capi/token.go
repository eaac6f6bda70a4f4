// Token suppliers written in C: pp_client_set_token_provider.
//
// The runtime calls the supplier outside every lock, one call at a time, on
// one of its goroutines; the call into C goes through a trampoline in
// pp.c, since Go cannot call a C function pointer. The token is copied out
// of the caller's buffer at once, and the buffer is freed.
package main

/*
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include "pulsar_producer.h"
pp_result ppx_call_token(uintptr_t cb, uintptr_t ud, char *buf, size_t size, size_t *len);
*/
import "C"

import (
	"unsafe"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

// tokenBufSizes are the buffer sizes offered to a supplier, the first
// fitting every ordinary token.
const (
	tokenBufFirst = 16 << 10
	tokenBufMax   = 1 << 20
)

// cTokenSupplier returns a supplier that calls the C callback cb.
func cTokenSupplier(cb, ud C.uintptr_t) func() (string, error) {
	return func() (string, error) {
		size := C.size_t(tokenBufFirst)
		for {
			buf := (*C.char)(C.malloc(size))
			var n C.size_t
			res := C.ppx_call_token(cb, ud, buf, size, &n)
			switch {
			case res == C.PP_OK && n <= size:
				tok := C.GoStringN(buf, C.int(n))
				C.memset(unsafe.Pointer(buf), 0, size)
				C.free(unsafe.Pointer(buf))
				return tok, nil
			case res == C.PP_ERR_BUFFER_TOO_SMALL && n > size && n <= tokenBufMax:
				C.free(unsafe.Pointer(buf))
				size = n
				continue
			}
			C.free(unsafe.Pointer(buf))
			if res == C.PP_OK {
				return "", engine.Errorf(engine.CodeAuthenticationError, "the token supplier wrote a length of %d into a buffer of %d bytes", uint64(n), uint64(size))
			}
			return "", engine.Errorf(engine.CodeAuthenticationError, "the token callback returned %s", engine.Code(res))
		}
	}
}

//export ppgo_client_set_token_provider
func ppgo_client_set_token_provider(hid C.pp_client, cb, ud C.uintptr_t, errbuf *C.char, errsize C.size_t) (res C.int) {
	defer recoverInto(&res, errbuf, errsize)
	if cb == 0 {
		return fail(invalidArg("the token callback is NULL"), errbuf, errsize)
	}
	cl, err := lookupClient(uint64(hid), false)
	if err != nil {
		return fail(err, errbuf, errsize)
	}
	return fail(cl.dc.SetTokenSupplier(cTokenSupplier(cb, ud)), errbuf, errsize)
}
