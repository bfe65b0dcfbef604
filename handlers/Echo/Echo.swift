import ConfideSDK

/// The example handler: answers every request with its own inputs, unchanged, under the same names.
struct Echo: Handler, HandlerInstance {
    static let name = "echo"
    static let description = "Returns each input tensor unchanged under the same name"

    init(model: ModelContext) {}

    func execute(_ batch: Batch) {
        batch.forEachRequest { request in
            for input in try request.inputs() {
                try request.respond(input.name, copying: input)
            }
        }
    }
}

@c(confide_plugin_entry)
public func confidePluginEntry(_ major: UInt32, _ minor: UInt32) -> UnsafeRawPointer? { Echo.export(major, minor) }
