import ConfideJSON

@c(LLVMFuzzerTestOneInput)
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let value = try? JSONParser.parse(bytes) {
        precondition((try? JSONParser.parse(value.serialized)) == value, "written JSON does not read back")
    }
    return 0
}
