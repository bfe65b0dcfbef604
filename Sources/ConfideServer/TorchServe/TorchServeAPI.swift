import ConfideHost
import ConfideKServe
import ConfideRuntime
import ConfideTensors
import NIOCore
import NIOHTTP1

/// TorchServe's inference API, served by the same `InferenceAPI` as KServe v2 over the same models.
extension InferenceAPI {
    /// `POST /predictions/{model}[/{version}]`: the request reaches the handler with no tensors but its raw body,
    /// content type and headers (credentials left out) as request attributes. A body the handler answers with is
    /// returned as it is, with the content type it names; outputs are returned as JSON.
    func predict(
        _ request: ServerRequest, _ model: ServedModel, _ version: ServedVersion, _ reply: @escaping RouteReply
    ) {
        // The body is copied for the handler: one more copy of it while the request lasts.
        let copy = request.body.readableBytes
        guard request.budget.tryReserve(copy) else {
            return reply(.failure(.overloaded("the server's memory budget is spent; retry shortly")))
        }
        let reply = request.budget.releasing(copy, after: reply)
        guard let body = request.body.withUnsafeReadableBytes({ TensorBuffer(copying: $0) }) else {
            return reply(.failure(.overloaded("no memory for a body of \(copy) bytes; retry shortly")))
        }
        let hostRequest = HostRequest(
            body: body, contentType: request.headers.first(name: "Content-Type"),
            headers: request.headers.map { (name: $0.name, value: $0.value) })
        let modelName = model.name
        let versionName = version.name
        let deadline = ContinuousClock.now + deadlines.timeout(model: model.config, requested: nil)
        version.scheduler.submit(hostRequest, deadline: deadline) { result in
            switch result {
            case .failure(let failure):
                reply(.failure(APIError(failure)))
            case .success(let response):
                if let answer = response.body {
                    reply(
                        .success(
                            ServerResponse(
                                status: .ok, headers: ["Content-Type": answer.contentType],
                                body: ByteBuffer(bytes: answer.bytes.bytes))))
                    return
                }
                reply(
                    Self.encode(
                        model: modelName, version: versionName, request: InferRequest(inputs: []),
                        outputs: response.outputs, budget: request.budget))
            }
        }
    }
}
