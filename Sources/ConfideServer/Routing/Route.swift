/// The listeners a server opens; each has its own routes.
public enum Surface: Sendable {
    /// The inference port: KServe v2, TorchServe inference, OpenAI embeddings, probes, the Oblivious HTTP gateway,
    /// `/attestation`.
    case inference
    /// The management port: TorchServe's management calls and the KServe v2 repository extension.
    case management
    /// The metrics port.
    case metrics
}

/// The protocol a route belongs to, which decides how its errors are written.
public enum APIFamily: Sendable, Equatable {
    /// The KServe Open Inference Protocol v2 and its repository extension: `{"error": "..."}`.
    case kserve
    /// TorchServe's inference and management APIs: `{"code", "type", "message"}`.
    case torchServe
    /// The Oblivious HTTP gateway: `application/problem+json` (RFC 9457).
    case gateway
    /// The OpenAI embeddings API: `{"error": {"message", "type", "param", "code"}}`.
    case openAI

    /// How errors of this protocol are written.
    public var errorFormat: ErrorFormat {
        switch self {
        case .kserve: .kserve
        case .torchServe: .torchServe
        case .gateway: .problem
        case .openAI: .openAI
        }
    }
}

/// What a request asks for: every front end turns method and path into one of these once, and authorization,
/// metrics and the APIs act on it, never on the path.
public enum RouteAction: Sendable, Equatable {
    // MARK: Inference port
    /// `GET /v2`: the server's metadata.
    case serverMetadata
    /// `GET /v2/health/live`.
    case live
    /// `GET /v2/health/ready`.
    case ready
    /// `GET /ping` (TorchServe).
    case ping
    /// `GET /v2/models/{model}[/versions/{version}]`.
    case modelMetadata
    /// `GET /v2/models/{model}[/versions/{version}]/ready`.
    case modelReady
    /// `POST /v2/models/{model}[/versions/{version}]/infer`.
    case infer
    /// `POST|PUT /predictions/{model}[/{version}]` (TorchServe).
    case predict
    /// `GET /.well-known/ohttp-gateway`: the gateway's key configurations.
    case gatewayKeys
    /// `POST /.well-known/ohttp-gateway`: an encapsulated request.
    case gatewayRequest
    /// `GET /attestation?nonce=<hex>`.
    case attestation
    /// `POST /v1/embeddings` (OpenAI): the model is named in the body.
    case embeddings
    /// `GET /v1/models` (OpenAI): the embeddings models the caller may use.
    case openAIModels
    /// `GET /v1/models/{model}` (OpenAI).
    case openAIModel
    /// `POST /v1/rerank` (Cohere, Jina and vLLM's shape): the model is named in the body.
    case rerank
    /// `POST /v1/classify` (vLLM's shape): the model is named in the body.
    case classify

    // MARK: Management port
    /// `GET /models`: the registered models, a page at a time.
    case listModels
    /// `POST /models?url={model}`: registers a model of the model store.
    case registerModel
    /// `GET /models/{model}[/{version}|/all]`.
    case describeModel
    /// `PUT /models/{model}[/{version}]?min_worker=N`.
    case scaleModel
    /// `PUT /models/{model}/{version}/set-default`.
    case setDefaultVersion
    /// `DELETE /models/{model}`.
    case unregisterModel
    /// `DELETE /models/{model}/{version}`: refused, versions are loaded together.
    case unregisterVersion
    /// `POST /v2/repository/index`.
    case repositoryIndex
    /// `POST /v2/repository/models/{model}/load`.
    case repositoryLoad
    /// `POST /v2/repository/models/{model}/unload`.
    case repositoryUnload

    // MARK: Metrics port
    /// `GET /metrics`.
    case metrics
}

/// A request's route: what it asks for, of which model and version, through which protocol.
public struct Route: Sendable, Equatable {
    /// What the request asks for.
    public let action: RouteAction
    /// The protocol, which decides the error format.
    public let family: APIFamily
    /// The model it addresses (percent-decoded once), when it addresses one.
    public let model: String?
    /// The version it addresses, when it names one.
    public let version: String?
    /// The query's parameters, percent-decoded once.
    public let query: QueryParameters

    /// Creates a route.
    public init(
        _ action: RouteAction, family: APIFamily, model: String? = nil, version: String? = nil,
        query: QueryParameters = QueryParameters()
    ) {
        self.action = action
        self.family = family
        self.model = model
        self.version = version
        self.query = query
    }

    /// Who may call it.
    public var access: RouteAccess {
        switch action {
        case .live, .ready, .ping, .gatewayKeys, .gatewayRequest, .attestation: .public
        case .embeddings, .openAIModels, .rerank, .classify: .modelsChosenByAPI
        default: model.map { .model($0) } ?? .server
        }
    }

    /// Whether it changes the server's state (a browser must not be able to send it cross-site).
    public var changesState: Bool {
        switch action {
        case .registerModel, .scaleModel, .setDefaultVersion, .unregisterModel, .unregisterVersion,
            .repositoryLoad, .repositoryUnload:
            true
        default: false
        }
    }
}

/// Who may call a route.
public enum RouteAccess: Sendable, Equatable {
    /// Anyone: probes, the gateway (whose inner requests are checked on their own) and the evidence.
    case `public`
    /// A token of the listener's scope that may use this model.
    case model(String)
    /// A token of the listener's scope that is not limited to some models.
    case server
    /// A token of the listener's scope; the models the request uses are not in its path, so the API checks each
    /// against the token's models (``RoutedRequest/grant``).
    case modelsChosenByAPI
}
