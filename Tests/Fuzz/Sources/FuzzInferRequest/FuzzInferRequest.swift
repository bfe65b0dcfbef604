import ConfideServer

@c(LLVMFuzzerTestOneInput)
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    ServerFuzz.inferRequest(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
