module github.com/pulsar-producer/pulsar-producer

go 1.26

require (
	github.com/golang/snappy v1.0.0
	github.com/klauspost/compress v1.20.4
	github.com/pierrec/lz4/v4 v4.1.33
	github.com/tetratelabs/wazero v1.12.0
	google.golang.org/protobuf v1.36.12
)

require golang.org/x/sys v0.44.0 // indirect
