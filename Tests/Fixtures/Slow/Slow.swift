import ConfideJSON
import ConfideSDK
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A handler for the runtime's tests: sleeps `delay_ms` (a model parameter) per batch, echoes its
/// inputs, and adds `batch_size` (the size of the batch it ran in), `seen` (how many requests this
/// model has executed so far) and, when the parameter `file` names one of the model's files, `file`
/// with that file's bytes. A batch holding a request with id "fail-batch" fails as a whole.
final class Slow: Handler, HandlerInstance {
    static let name = "slow"
    let delay: UInt32
    let file: [UInt8]?
    let seen = Atomic<Int64>(0)

    init(model: ModelContext) throws {
        let parameters = try JSONParser.parse(model.parametersJSON)
        delay = UInt32(parameters.objectValue?["delay_ms"]?.int64Value ?? 0)
        file = try parameters.objectValue?["file"]?.stringValue.map { name in
            try model.file(name).withUnsafeBytes { Array($0) }
        }
    }

    func execute(_ batch: Batch) throws {
        if delay > 0 { usleep(delay * 1000) }
        if batch.contains(where: { $0.id == "fail-batch" }) {
            throw HandlerError.internal("batch of \(batch.count) failed on purpose")
        }
        let size = Int64(batch.count)
        batch.forEachRequest { request in
            let seen = self.seen.wrappingAdd(1, ordering: .relaxed).newValue
            for input in try request.inputs() { try request.respond(input.name, copying: input) }
            try request.respond("batch_size", dataType: .int64, shape: [1], elements: [size])
            try request.respond("seen", dataType: .int64, shape: [1], elements: [seen])
            if let file { try request.respond("file", dataType: .uint8, shape: [Int64(file.count)], elements: file) }
        }
    }
}

@c(confide_plugin_entry)
public func confidePluginEntry(_ major: UInt32, _ minor: UInt32) -> UnsafeRawPointer? { Slow.export(major, minor) }
