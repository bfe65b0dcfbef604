import ConfideHost
import ConfideSDK
import ConfideTensors
import ConfideTestKit
import Foundation
import Testing

/// Reports the bytes of its model's `weights.bin` as a UINT8 output.
struct WeightsReader: Handler, HandlerInstance {
    static let name = "weights-reader"
    let weights: [UInt8]

    init(model: ModelContext) throws {
        weights = try model.file("weights.bin").withUnsafeBytes { Array($0) }
    }

    func execute(_ batch: Batch) {
        batch.forEachRequest { request in
            try request.respond("weights", dataType: .uint8, shape: [Int64(weights.count)], elements: weights)
        }
    }
}

@Suite("Model files: in memory from an archive, or mapped from the model folder")
struct ModelFileTests {
    @Test func aHandlerReadsInMemoryArtifacts() throws {
        let bytes: [UInt8] = [1, 2, 3, 250]
        let buffer = try #require(TensorBuffer(copying: bytes))
        let tester = try HandlerTester(
            WeightsReader.self, model: ModelLoadConfig(name: "m", artifacts: ["weights.bin": buffer]))
        #expect(try tester.infer([])["weights"]?.values(as: UInt8.self) == bytes)
    }

    @Test func aHandlerReadsFilesFromItsFolder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("confide-sdk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data([9, 8, 7]).write(to: folder.appendingPathComponent("weights.bin"))
        let tester = try HandlerTester(WeightsReader.self, model: ModelLoadConfig(name: "m", path: folder.path))
        #expect(try tester.infer([])["weights"]?.values(as: UInt8.self) == [9, 8, 7])
        let missing = #expect(throws: HandlerError.self) {
            try HandlerTester(WeightsReader.self, model: ModelLoadConfig(name: "m", path: folder.path + "/nope"))
        }
        #expect(missing?.code == .notFound)
    }
}
