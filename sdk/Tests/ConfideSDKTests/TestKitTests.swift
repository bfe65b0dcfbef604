import ConfideHost
import ConfideSDK
import ConfideTensors
import ConfideTestKit
import Testing

/// Doubles FP32 inputs; fails a request whose input is negative; fails the whole batch on "boom".
struct Doubler: Handler {
    static let name = "doubler"
    let factor: Float

    init(model: ModelContext) throws {
        guard model.parametersJSON.contains("\"factor\": 2") else {
            throw HandlerError.invalidArgument("parameters must set factor 2, got \(model.parametersJSON)")
        }
        factor = 2
    }

    var inputs: [TensorSpec] { [TensorSpec(name: "x", dataType: .fp32, shape: [-1])] }
    var outputs: [TensorSpec] { [TensorSpec(name: "y", dataType: .fp32, shape: [-1])] }

    func makeInstance(worker: WorkerContext) -> Instance { Instance(factor: factor, worker: worker.index) }

    struct Instance: HandlerInstance {
        let factor: Float
        let worker: Int
        var executed = 0

        mutating func execute(_ batch: Batch) throws {
            executed += 1
            if batch.contains(where: { $0.id == "boom" }) { throw HandlerError.unavailable("batch \(executed) failed") }
            let factor = factor
            batch.forEachRequest { request in
                let x = try request.input("x")
                let values = Array(try x.elements(as: Float.self))
                guard values.allSatisfy({ $0 >= 0 }) else { throw HandlerError.invalidArgument("negative input") }
                try request.respond("y", dataType: .fp32, shape: x.shape, elements: values.map { $0 * factor })
            }
        }
    }
}

/// Produces outputs that break the ABI's rules, to check the host refuses them.
struct Misbehaving: Handler, HandlerInstance {
    static let name = "misbehaving"
    init(model: ModelContext) {}

    func execute(_ batch: Batch) {
        batch.forEachRequest { request in
            switch request.id {
            case "size": _ = try request.addOutput(name: "y", dataType: .fp32, shape: [3], byteCount: 8)
            case "twice":
                try request.respond("y", strings: ["a"])
                try request.respond("y", strings: ["b"])
            case "bytes":
                let out = try request.addOutput(name: "y", dataType: .bytes, shape: [1], byteCount: 4)
                out.storeBytes(of: UInt32(100), as: UInt32.self)
            default: try request.respond("y", strings: ["fine"])
            }
        }
    }
}

@Suite("The test kit runs handlers through the real ABI")
struct TestKitTests {
    let config = ModelLoadConfig(name: "d", parametersJSON: #"{"factor": 2}"#)

    @Test func aHandlerAnswersEveryRequestOfABatch() throws {
        let tester = try HandlerTester(Doubler.self, model: config)
        #expect(tester.model.inputs == [TensorSpec(name: "x", dataType: .fp32, shape: [-1])])
        let x = try #require(HostTensor(name: "x", dataType: .fp32, shape: [3], values: [Float(1), 2.5, 0]))
        #expect(try tester.infer([x])["y"]?.values(as: Float.self) == [2, 5, 0])
    }

    @Test func aFailingRequestFailsAloneAndAThrownBatchFailsAll() throws {
        let tester = try HandlerTester(Doubler.self, model: config)
        let good = try #require(HostTensor(name: "x", dataType: .fp32, shape: [1], values: [Float(1)]))
        let negative = try #require(HostTensor(name: "x", dataType: .fp32, shape: [1], values: [Float(-1)]))
        let results = tester.execute([
            HostRequest(inputs: [good]), HostRequest(inputs: [negative]), HostRequest(inputs: []),
        ])
        #expect(try results[0].get().outputs.first?.values(as: Float.self) == [2])
        #expect(throws: HandlerError.invalidArgument("negative input")) { try results[1].get() }
        #expect(throws: HandlerError.invalidArgument("missing input 'x'")) { try results[2].get() }
        let failed = tester.execute([HostRequest(inputs: [good]), HostRequest(id: "boom", inputs: [good])])
        for result in failed {
            #expect(throws: HandlerError.unavailable("batch 2 failed")) { try result.get() }
        }
    }

    @Test func aModelThatFailsToLoadReportsTheHandlersError() {
        #expect(throws: HandlerError.self) { try HandlerTester(Doubler.self, model: ModelLoadConfig(name: "d")) }
    }

    @Test func theHostRefusesOutputsThatBreakTheRules() throws {
        let tester = try HandlerTester(Misbehaving.self)
        let results = tester.execute(["size", "twice", "bytes", "ok"].map { HostRequest(id: $0, inputs: []) })
        #expect(throws: HandlerError.self) { try results[0].get() }
        let twice = #expect(throws: HandlerError.self) { try results[1].get() }
        #expect(twice?.message.contains("added twice") == true)
        let bytes = #expect(throws: HandlerError.self) { try results[2].get() }
        #expect(bytes?.message.contains("malformed BYTES") == true)
        #expect(try results[3].get().outputs.first?.strings() == ["fine"])
    }

    @Test func twoHandlerTypesCanBeExportedInOneProcess() throws {
        let doubler = try HandlerTester(Doubler.self, model: config)
        let misbehaving = try HandlerTester(Misbehaving.self)
        #expect(doubler.model.plugin.name == "doubler")
        #expect(misbehaving.model.plugin.name == "misbehaving")
    }
}

@Suite("BYTES element encoding")
struct BytesElementsTests {
    @Test func roundTrips() throws {
        let elements: [[UInt8]] = [[], [0], Array("héllo".utf8)]
        let encoded = try BytesElements.encode(elements)
        #expect(try encoded.count == BytesElements.encodedSize(elements))
        let decoded = try encoded.withUnsafeBytes { try BytesElements.decode($0).map { Array($0) } }
        #expect(decoded == elements)
    }

    @Test func truncatedDataIsAnErrorNotATrap() throws {
        let encoded = try BytesElements.encode([Array("abcdef".utf8)])
        for length in 0..<encoded.count {
            let prefix = Array(encoded.prefix(length))
            let count = prefix.withUnsafeBytes { BytesElements.count($0) }
            #expect(count == (length == 0 ? 0 : nil))
        }
    }
}
