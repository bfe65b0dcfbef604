import ArgumentParser

@testable import ConfideCLI

/// The Confide Deployment of a rendering, with the `confide serve` command line its container runs.
struct ConfideDeployment {
    static let containerfilePath = "deploy/container/Containerfile"
    static let overlays = ["deploy/kubernetes/overlays/tdx", "deploy/kubernetes/overlays/dev"]
    static let kustomizations = ["deploy/kubernetes/base"] + overlays

    let rendering: Rendering
    let deployment: KubernetesObject
    let pod: YAMLValue
    let container: YAMLValue
    /// The container's command line, parsed by the real `confide serve`.
    let serve: Serve

    init(_ folder: String) throws {
        rendering = try Rendering(folder)
        deployment = try rendering.object(kind: "Deployment", name: "confide")
        guard let pod = deployment.value.at("spec", "template", "spec") else {
            throw DeployFileError("\(folder): the Deployment has no pod template")
        }
        self.pod = pod
        guard let container = pod["containers"]?.sequence?.first(where: { $0["name"]?.string == "confide" }) else {
            throw DeployFileError("\(folder): the pod has no container named confide")
        }
        self.container = container
        serve = try Self.serve(for: container, containerfile: Containerfile(Self.containerfilePath))
    }

    /// What a container runs: Kubernetes' `command` replaces the image's ENTRYPOINT and `args` its CMD, the
    /// image's own when they are absent. The result must be `confide serve ...`, parsed (and validated) the way
    /// the server's command line parses it.
    static func serve(for container: YAMLValue?, containerfile: Containerfile) throws -> Serve {
        let command =
            try container?["command"].map { try strings($0, "command") } ?? containerfile.execForm("ENTRYPOINT")
        let arguments = try container?["args"].map { try strings($0, "args") } ?? containerfile.execForm("CMD")
        let line = command + arguments
        guard line.count >= 2, line[0].hasSuffix("/confide") || line[0] == "confide", line[1] == "serve" else {
            throw DeployFileError("the container runs \(line.prefix(2).joined(separator: " ")), not confide serve")
        }
        do {
            return try Serve.parse(Array(line.dropFirst(2)))
        } catch {
            throw DeployFileError("confide serve refuses \(line.dropFirst(2)): \(Serve.message(for: error))")
        }
    }

    /// Arguments must be strings: Kubernetes refuses `- 8080` in `args`.
    static func strings(_ value: YAMLValue, _ field: String) throws -> [String] {
        guard let items = value.sequence else { throw DeployFileError("\(field) must be a list") }
        return try items.map { item in
            guard let text = item.string else { throw DeployFileError("\(field): \(item) is not a string") }
            return text
        }
    }

    /// A container port, by name or number, as a port reference in a probe or a Service names it.
    func containerPort(_ reference: YAMLValue?) -> Int? {
        let ports = container["ports"]?.sequence ?? []
        switch reference {
        case .string(let name)?:
            guard case .int(let number)? = ports.first(where: { $0["name"]?.string == name })?["containerPort"] else {
                return nil
            }
            return number
        case .int(let number)?:
            return ports.contains { $0["containerPort"] == .int(number) } ? number : nil
        default:
            return nil
        }
    }

    /// The pod's and every container's (init containers included) resources.
    var allContainers: [YAMLValue] {
        (pod["initContainers"]?.sequence ?? []) + (pod["containers"]?.sequence ?? [])
    }

    var replicas: Int {
        guard case .int(let count)? = deployment.value.at("spec", "replicas") else { return 1 }
        return count
    }
}
