import ConfideHost
import ConfideRuntime
import ConfideSDK
import ConfideTensors
import Foundation
import Testing

@testable import ConfideServer

@Suite("A request's rows split between a model's workers")
struct RowSplitTests {
    @Test func rowsAreSplitIntoNearEqualConsecutiveRanges() {
        #expect(RowSplit.ranges(rows: 5, count: 2) == [0..<3, 3..<5])
        #expect(RowSplit.ranges(rows: 7, count: 3) == [0..<3, 3..<5, 5..<7])
        #expect(RowSplit.ranges(rows: 2, count: 2) == [0..<1, 1..<2])
    }

    @Test func inputsAreSplitAlongTheirFirstDimensionAndOutputsJoinedInOrder() throws {
        let texts = try #require(HostTensor(name: "text", strings: ["a", "", "héllo", "d", "e"]))
        let values = try #require(
            HostTensor(name: "v", dataType: .fp32, shape: [5, 2], values: (0..<10).map(Float.init)))
        let parts = try #require(
            RowSplit.split(HostRequest(inputs: [texts, values], requestedOutputs: ["v"]), rows: 5, into: 2))
        #expect(parts.count == 2)
        #expect(parts.map { $0.inputs[0].strings() } == [["a", "", "héllo"], ["d", "e"]])
        #expect(parts.map { $0.inputs[1].shape } == [[3, 2], [2, 2]])
        #expect(parts.map { $0.inputs[1].values(as: Float.self) } == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9]])
        #expect(parts.allSatisfy { $0.requestedOutputs == ["v"] })

        let joined = try RowSplit.join(parts.map { HostResponse(outputs: $0.inputs) }).get()
        #expect(joined.outputs.map(\.name) == ["text", "v"])
        #expect(joined.outputs[0].shape == [5] && joined.outputs[0].strings() == ["a", "", "héllo", "d", "e"])
        #expect(
            joined.outputs[1].shape == [5, 2] && joined.outputs[1].values(as: Float.self) == (0..<10).map(Float.init))
    }

    @Test func inputsWithoutTheRowsAreNotSplit() throws {
        let three = try #require(HostTensor(name: "text", strings: ["a", "b", "c"]))
        #expect(RowSplit.split(HostRequest(inputs: [three]), rows: 4, into: 2) == nil)
        let scalar = try #require(HostTensor(name: "s", dataType: .int32, shape: [], values: [Int32(1)]))
        #expect(RowSplit.split(HostRequest(inputs: [scalar]), rows: 1, into: 2) == nil)
    }

    @Test func outputsThatDoNotJoinFailTheRequest() throws {
        let a = try #require(HostTensor(name: "x", dataType: .fp32, shape: [1, 2], values: [Float(1), 2]))
        let b = try #require(HostTensor(name: "x", dataType: .fp32, shape: [1, 3], values: [Float(1), 2, 3]))
        let c = try #require(HostTensor(name: "x", dataType: .int32, shape: [1, 2], values: [Int32(1), 2]))
        let d = try #require(HostTensor(name: "y", dataType: .fp32, shape: [1, 2], values: [Float(1), 2]))
        for other in [b, c, d] {
            let result = RowSplit.join([HostResponse(outputs: [a]), HostResponse(outputs: [other])])
            guard case .failure(.handler(let error)) = result else {
                Issue.record("\(other) joined with \(a)")
                continue
            }
            #expect(error.message.contains("'x'"))
        }
    }
}
