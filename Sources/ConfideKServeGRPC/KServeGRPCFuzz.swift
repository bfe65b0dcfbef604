import ConfideKServe
import ConfideTensors
import Foundation
import SwiftProtobuf

/// Entry points for fuzzing the gRPC message decoding (see `Tests/Fuzz`). Each must return normally on any input,
/// and every tensor a decoder accepts must be consistent with its shape and type.
public enum KServeGRPCFuzz {
    /// Decodes `bytes` as a serialized `ModelInferRequest`, then as the server decodes its inputs.
    public static func inferRequest(_ bytes: [UInt8]) {
        guard let message = try? Inference_ModelInferRequest(serializedBytes: bytes),
            let request = try? KServeGRPCCodec.decodeRequest(message)
        else { return }
        for input in request.inputs {
            precondition(input.consistencyProblem() == nil, "accepted an inconsistent input '\(input.name)'")
        }
    }
}
