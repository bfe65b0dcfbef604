/// A request with its route, as the APIs see it.
public struct RoutedRequest: Sendable {
    /// What the request asks for, parsed once by the ``Router``.
    public let route: Route
    /// The request itself (head and body).
    public let request: ServerRequest
    /// The models its caller may use: set by ``BearerAuthorization``, for APIs whose models are not in the path.
    public let grant: ModelGrant

    /// Pairs a request with its route; `grant` says which models its caller may use.
    public init(route: Route, request: ServerRequest, grant: ModelGrant = .everyModel) {
        self.route = route
        self.request = request
        self.grant = grant
    }
}

/// The answer to a routed request: a response, or an error the listener writes in the route's format. It completes the
/// promise of the request's response (see ``RequestResponder``): only the first answer is written.
public typealias RouteReply = @Sendable (Result<ServerResponse, APIError>) -> Void

/// A stage of a listener's chain (gateway, evidence, authorization, an API): answers the routes it serves and
/// hands the others on.
public protocol RouteResponder: Sendable {
    /// Answers `request` by calling `reply`, on any thread; only the first call is written.
    func handle(_ request: RoutedRequest, reply: @escaping RouteReply)
}

extension Result where Success == ServerResponse, Failure == APIError {
    /// The response, with an error written in `family`'s format.
    func response(in family: APIFamily) -> ServerResponse {
        switch self {
        case .success(let response): response
        case .failure(let error): family.errorFormat.response(error)
        }
    }
}

/// The front of a listener: routes each request once, refuses cross-site requests, hands the routed request to
/// its chain and writes the chain's errors in the route's format.
public struct Listener: RequestResponder {
    private let router: Router
    private let sites: SitePolicy
    private let next: any RouteResponder

    /// Routes the requests of `surface` to `next`, refusing those `sites` does not allow.
    public init(surface: Surface, sites: SitePolicy, next: any RouteResponder) {
        self.router = Router(surface: surface)
        self.sites = sites
        self.next = next
    }

    public func handle(_ request: ServerRequest, respond: @escaping @Sendable (ServerResponse) -> Void) {
        let route: Route
        do {
            route = try router.route(method: request.method, path: request.path, query: request.query)
        } catch {
            return respond(error.family.errorFormat.response(error.error))
        }
        do throws(APIError) {
            try sites.check(request, route)
        } catch {
            return respond(route.family.errorFormat.response(error))
        }
        next.handle(RoutedRequest(route: route, request: request)) { respond($0.response(in: route.family)) }
    }
}

extension MemoryBudget {
    /// `reply`, giving back `bytes` of this budget before it answers: for memory a stage reserved for a request
    /// and holds until the request is answered.
    func releasing(_ bytes: Int, after reply: @escaping RouteReply) -> RouteReply {
        { result in
            self.release(bytes)
            reply(result)
        }
    }
}
