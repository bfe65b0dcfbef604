import ConfideSDK

/// A handler whose every model fails to load, for the loader's tests.
struct FailingLoad: Handler, HandlerInstance {
    static let name = "failing-load"

    init(model: ModelContext) throws {
        throw HandlerError.notFound("weights not found in \(model.path)")
    }

    func execute(_ batch: Batch) {}
}

@c(confide_plugin_entry)
public func confidePluginEntry(_ major: UInt32, _ minor: UInt32) -> UnsafeRawPointer? {
    FailingLoad.export(major, minor)
}
