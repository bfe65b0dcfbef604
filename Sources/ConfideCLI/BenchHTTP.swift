import ArgumentParser
import ConfideAttestation
import ConfideClient
import ConfideHTTPClient
import ConfideJSON
import ConfideKServe
import ConfideKServeGRPC
import ConfideSDK
import ConfideTensors
import Foundation
import NIOCore
import NIOHTTP1

/// `confide bench http`: a closed-loop load generator for a model, at several concurrency levels.
struct BenchHTTP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http",
        abstract: "Load a model with concurrent clients and report throughput and p50/p90/p99 latency.",
        discussion: """
            Each of --concurrency connections sends its next request as soon as the previous one is answered.
            The payload is a KServe v2 JSON body from --request, one text per request from --sentences (a BYTES
            input named --input-name, or the raw body with --torchserve), or by default a generated FP32 [1, 16]
            tensor. With --protocol grpc, --url names the gRPC port and each connection is an HTTP/2 connection
            sending KServe v2 ModelInfer calls with their tensors in raw_input_contents, as tritonclient.grpc does.
            """)

    /// The protocol the load is sent in.
    enum LoadProtocol: String, ExpressibleByArgument {
        case rest
        case grpc
    }

    @Option(help: "The server's base URL.")
    var url = "http://127.0.0.1:8080"

    @Option(help: "The model's name.")
    var model: String

    @Option(help: "The model version; the model's default when omitted.")
    var modelVersion: String?

    @Option(help: "Comma-separated concurrency levels.")
    var concurrency = "1,16,64"

    @Option(help: "Measured seconds per concurrency level.")
    var duration = 10.0

    @Option(help: "Unmeasured seconds before each level.")
    var warmup = 2.0

    @Option(help: "A file holding a KServe v2 JSON request body.")
    var request: String?

    @Option(help: "A file with one text per line; each request carries the next one.")
    var sentences: String?

    @Option(help: "The BYTES input name for --sentences.")
    var inputName = "text"

    @Option(name: .customLong("protocol"), help: "rest (KServe v2 over HTTP/1.1) or grpc (KServe v2 over gRPC).")
    var loadProtocol = LoadProtocol.rest

    @Flag(help: "Send to TorchServe's /predictions/{model} instead of KServe v2.")
    var torchserve = false

    @Flag(help: "Encrypt every request end to end (Oblivious HTTP), after verifying the server's attestation.")
    var encrypted = false

    @Flag(help: "With --encrypted: accept simulated (insecure) attestation evidence.")
    var acceptSimulated = false

    @Flag(help: "Print the results as JSON.")
    var json = false

    func run() async throws {
        guard let components = URLComponents(string: url), let host = components.host else {
            throw ValidationError("--url must look like http://host:port")
        }
        let levels = concurrency.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !levels.isEmpty, levels.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--concurrency needs positive numbers")
        }
        let port = components.port ?? 80
        if loadProtocol == .grpc {
            guard !encrypted, !torchserve else {
                throw ValidationError(
                    "--protocol grpc sends KServe v2 in plaintext: not with --encrypted or --torchserve")
            }
            let generator = LoadGenerator(requests: try grpcRequests()) {
                try await GRPCLoadConnection.connect(host: host, port: port)
            }
            return try await report(generator, levels: levels)
        }
        let generator: LoadGenerator<ClientRequest>
        if encrypted {
            var policy = AttestationPolicy(expectedReportData: [])
            policy.acceptSimulated = acceptSimulated
            policy.allowedSimulatedMeasurements = acceptSimulated ? [SimulatedEvidenceProvider.defaultMeasurement] : []
            generator = LoadGenerator(requests: try requests()) { [policy] in
                let client = try await ObliviousClient.connect(host: host, port: port, policy: policy)
                try await client.attest()
                return client
            }
        } else {
            generator = LoadGenerator(host: host, port: port, requests: try requests())
        }
        try await report(generator, levels: levels)
    }

    /// Runs every level with `generator` and prints the results.
    private func report<Request>(_ generator: LoadGenerator<Request>, levels: [Int]) async throws {
        var results: [LoadResult] = []
        for level in levels {
            let result = try await generator.run(
                concurrency: level, duration: .seconds(duration), warmup: .seconds(warmup)
            ) { answered, elapsed in
                let line =
                    "\rconcurrency \(level): \(answered) requests, \(Int(Double(answered) / elapsed.secondsValue)) req/s   "
                FileHandle.standardError.write(Data(line.utf8))
            }
            FileHandle.standardError.write(Data("\n".utf8))
            results.append(result)
        }
        print(json ? jsonReport(results) : table(results))
    }

    private func requests() throws -> [ClientRequest] {
        let kservePath = "/v2/models/\(model)" + (modelVersion.map { "/versions/\($0)" } ?? "") + "/infer"
        let torchServePath = "/predictions/\(model)" + (modelVersion.map { "/\($0)" } ?? "")
        if let sentences {
            guard let text = try? String(contentsOfFile: sentences, encoding: .utf8) else {
                throw ValidationError("cannot read \(sentences)")
            }
            let lines = text.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
            guard !lines.isEmpty else { throw ValidationError("\(sentences) holds no text") }
            return try lines.map { line in
                if torchserve {
                    return ClientRequest(
                        method: .POST, uri: torchServePath, headers: ["Content-Type": "text/plain"],
                        body: ByteBuffer(string: line))
                }
                guard let input = InferTensor(name: inputName, strings: [line]) else {
                    throw ValidationError("cannot encode a text")
                }
                return try KServeClient.request(model: model, version: modelVersion, inputs: [input], binary: false)
            }
        }
        if let request {
            guard let body = FileManager.default.contents(atPath: request) else {
                throw ValidationError("cannot read \(request)")
            }
            return [
                ClientRequest(
                    method: .POST, uri: torchserve ? torchServePath : kservePath,
                    headers: ["Content-Type": "application/json"], body: ByteBuffer(bytes: body))
            ]
        }
        let values = (0..<16).map { Float($0) / 16 }
        guard let input = InferTensor(name: "INPUT0", dataType: .fp32, shape: [1, 16], values: values) else {
            throw ValidationError("cannot build the default payload")
        }
        return [try KServeClient.request(model: model, version: modelVersion, inputs: [input], binary: false)]
    }

    /// The gRPC requests: the inputs of --request, one text per request from --sentences, or a generated FP32 [1, 16]
    /// tensor, each with its data in raw_input_contents.
    private func grpcRequests() throws -> [Inference_ModelInferRequest] {
        func request(_ inputs: [HostTensor]) -> Inference_ModelInferRequest {
            KServeGRPCCodec.encodeRequest(model: model, version: modelVersion, inputs: inputs)
        }
        if let sentences {
            guard let text = try? String(contentsOfFile: sentences, encoding: .utf8) else {
                throw ValidationError("cannot read \(sentences)")
            }
            let lines = text.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
            guard !lines.isEmpty else { throw ValidationError("\(sentences) holds no text") }
            return try lines.map { line in
                guard let input = HostTensor(name: inputName, strings: [line]) else {
                    throw ValidationError("cannot encode a text")
                }
                return request([input])
            }
        }
        if let file = self.request {
            guard let body = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read \(file)")
            }
            do throws(KServeCodecError) {
                return [request(try KServeCodec.decodeRequest(body: ByteBuffer(bytes: body), headerLength: nil).inputs)]
            } catch {
                throw ValidationError("\(file) is not a KServe v2 request: \(error.message)")
            }
        }
        let values = (0..<16).map { Float($0) / 16 }
        guard let input = HostTensor(name: "INPUT0", dataType: .fp32, shape: [1, 16], values: values) else {
            throw ValidationError("cannot build the default payload")
        }
        return [request([input])]
    }

    private func milliseconds(_ duration: Duration) -> String { String(format: "%.2f", duration.secondsValue * 1000) }

    private func table(_ results: [LoadResult]) -> String {
        var lines = ["concurrency  throughput (req/s)  p50 (ms)  p90 (ms)  p99 (ms)  errors"]
        for result in results {
            lines.append(
                String(result.concurrency).padding(toLength: 13, withPad: " ", startingAt: 0)
                    + String(format: "%.0f", result.throughput).padding(toLength: 20, withPad: " ", startingAt: 0)
                    + milliseconds(result.latency(quantile: 0.5)).padding(toLength: 10, withPad: " ", startingAt: 0)
                    + milliseconds(result.latency(quantile: 0.9)).padding(toLength: 10, withPad: " ", startingAt: 0)
                    + milliseconds(result.latency(quantile: 0.99)).padding(toLength: 10, withPad: " ", startingAt: 0)
                    + String(result.failed))
        }
        return lines.joined(separator: "\n")
    }

    private func jsonReport(_ results: [LoadResult]) -> String {
        func ms(_ duration: Duration) -> JSONValue { .double((duration.secondsValue * 1e6).rounded() / 1000) }
        let report = JSONValue.object(
            JSONObject([
                "url": .string(url), "model": .string(model), "duration_s": .double(duration),
                "results": .array(
                    results.map { result in
                        .object(
                            JSONObject([
                                "concurrency": .integer(Int64(result.concurrency)),
                                "requests": .integer(Int64(result.succeeded)),
                                "errors": .integer(Int64(result.failed)),
                                "throughput": .double((result.throughput * 10).rounded() / 10),
                                "p50_ms": ms(result.latency(quantile: 0.5)),
                                "p90_ms": ms(result.latency(quantile: 0.9)),
                                "p99_ms": ms(result.latency(quantile: 0.99)),
                            ]))
                    }),
            ]))
        return String(decoding: report.serialized, as: UTF8.self)
    }
}
