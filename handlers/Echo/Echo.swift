import ConfideSDK

/// The example handler: answers every request with its own inputs, unchanged, under the same names; a request that
/// carries a body instead of tensors (TorchServe's `/predictions`) gets that body back, with its content type.
struct Echo: Handler, HandlerInstance {
    static let name = "echo"
    static let description = "Returns each input tensor unchanged under the same name, and a body as it came"

    init(model: ModelContext) {}

    func execute(_ batch: Batch) {
        batch.forEachRequest { request in
            let inputs = try request.inputs()
            if inputs.isEmpty, let body = request.body {
                return try request.respond(
                    body: Array(body), contentType: request.contentType ?? "application/octet-stream")
            }
            for input in inputs {
                try request.respond(input.name, copying: input)
            }
        }
    }
}

@c(confide_plugin_entry)
public func confidePluginEntry(_ major: UInt32, _ minor: UInt32) -> UnsafeRawPointer? { Echo.export(major, minor) }
