import ArgumentParser
import ConfideServer
import Foundation
import Testing

@testable import ConfideCLI

@Suite("Kubernetes manifests: every file renders, and the pods run the server as it really is")
struct KubernetesManifestTests {
    @Test func everyYAMLFileIsReadByAKustomization() throws {
        var read: Set<String> = []
        for folder in ConfideDeployment.kustomizations {
            read.formUnion(try Rendering(folder).files)
        }
        let files = Repository.files(under: "deploy/kubernetes", extensions: ["yaml", "yml"])
        #expect(!files.isEmpty)
        for file in files {
            _ = try YAMLValue.documents(try Repository.text(file), file: file)
            #expect(read.contains(file), "\(file) is read by no kustomization: deploy it through one or remove it")
        }
    }

    @Test(arguments: ConfideDeployment.kustomizations)
    func rendersOneDeploymentAndOneService(folder: String) throws {
        let rendering = try Rendering(folder)
        #expect(rendering.objects(kind: "Deployment").count == 1)
        #expect(rendering.objects(kind: "Service").count == 1)
    }

    @Test(arguments: ConfideDeployment.kustomizations)
    func portsServiceAndProbesMatchTheServer(folder: String) throws {
        let deployment = try ConfideDeployment(folder)
        let serve = deployment.serve
        let serverPorts = Set(
            [serve.port] + (serve.noMetrics ? [] : [serve.metricsPort]) + (serve.noGrpc ? [] : [serve.grpcPort]))
        // The pod must be reachable: the server binds every address, not loopback.
        #expect(
            serve.host == "0.0.0.0" || serve.host == "::",
            "\(folder): --host \(serve.host) is unreachable from the Service")
        #expect(
            deployment.containerPort(.string("http")) == serve.port,
            "\(folder): the http port is not the inference port \(serve.port)")
        #expect(
            deployment.containerPort(.string("metrics")) == serve.metricsPort,
            "\(folder): the metrics port is not the metrics port \(serve.metricsPort)")
        #expect(
            deployment.containerPort(.string("grpc")) == serve.grpcPort && !serve.noGrpc,
            "\(folder): the grpc port is not the KServe v2 gRPC port \(serve.grpcPort)")

        let service = try deployment.rendering.object(kind: "Service", name: "confide")
        let ports = try #require(service.value.at("spec", "ports")?.sequence)
        #expect(!ports.isEmpty)
        for port in ports {
            let target = deployment.containerPort(port["targetPort"] ?? port["port"])
            #expect(
                target.map(serverPorts.contains) == true,
                "\(folder): Service port \(port) reaches no port the server listens on")
        }
        let selector = try #require(service.value.at("spec", "selector")?.mapping)
        let labels = deployment.deployment.value.at("spec", "template", "metadata", "labels")?.mapping ?? [:]
        #expect(
            !selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value },
            "\(folder): the Service selects no pod")

        for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
            let get = try #require(deployment.container.at(probe, "httpGet"), "\(folder): no \(probe) with httpGet")
            #expect(
                deployment.containerPort(get["port"]) == serve.port,
                "\(folder): \(probe) does not probe the inference port")
            // Whether the server answers these paths as the probes need is checked on a real server (LiveServerTests).
            #expect(get["path"]?.string?.hasPrefix("/") == true, "\(folder): \(probe) has no path")
        }
    }

    @Test(arguments: ConfideDeployment.kustomizations)
    func prometheusScrapesTheMetricsPort(folder: String) throws {
        let deployment = try ConfideDeployment(folder)
        let annotations = try #require(
            deployment.deployment.value.at("spec", "template", "metadata", "annotations")?.mapping)
        #expect(annotations["prometheus.io/scrape"] == .string("true"))
        #expect(!deployment.serve.noMetrics)
        #expect(annotations["prometheus.io/port"] == .string(String(deployment.serve.metricsPort)))
        #expect(annotations["prometheus.io/path"]?.string?.hasPrefix("/") == true)
        // Kubernetes refuses annotations and labels that are not strings (`prometheus.io/port: 8082`).
        for (key, value) in annotations {
            #expect(value.string != nil, "\(folder): annotation \(key) is \(value), not a string")
        }
    }

    @Test(arguments: ConfideDeployment.kustomizations)
    func everyContainerHasGuaranteedQoSOnWholeCPUs(folder: String) throws {
        let deployment = try ConfideDeployment(folder)
        #expect(!deployment.allContainers.isEmpty)
        for container in deployment.allContainers {
            let name = container["name"]?.string ?? "?"
            let requests = try #require(container.at("resources", "requests"), "\(folder): \(name) has no requests")
            let limits = try #require(container.at("resources", "limits"), "\(folder): \(name) has no limits")
            let cpu = try Quantity.millicores(try #require(limits["cpu"], "\(folder): \(name) has no CPU limit"))
            #expect(cpu > 0 && cpu % 1000 == 0, "\(folder): \(name)'s CPU limit is not a whole number of CPUs")
            #expect(
                try Quantity.millicores(try #require(requests["cpu"])) == cpu,
                "\(folder): \(name)'s CPU request is not its limit")
            let memory = try Quantity.bytes(try #require(limits["memory"], "\(folder): \(name) has no memory limit"))
            #expect(
                try Quantity.bytes(try #require(requests["memory"])) == memory,
                "\(folder): \(name)'s memory request is not its limit")
        }
    }

    @Test(arguments: ConfideDeployment.kustomizations)
    func tokensAndModelsComeFromTheirVolumes(folder: String) throws {
        let deployment = try ConfideDeployment(folder)
        let volumes = Dictionary(
            uniqueKeysWithValues: (deployment.pod["volumes"]?.sequence ?? []).compactMap { volume in
                volume["name"]?.string.map { ($0, volume) }
            })
        for container in deployment.allContainers {
            for mount in container["volumeMounts"]?.sequence ?? [] {
                #expect(volumes[mount["name"]?.string ?? ""] != nil, "\(folder): a mount names no volume: \(mount)")
            }
        }
        let mounts = deployment.container["volumeMounts"]?.sequence ?? []
        func mount(containing path: String) -> (mount: YAMLValue, relative: String)? {
            for mount in mounts {
                guard let base = mount["mountPath"]?.string else { continue }
                if path == base { return (mount, "") }
                if path.hasPrefix(base + "/") { return (mount, String(path.dropFirst(base.count + 1))) }
            }
            return nil
        }

        // Off loopback the server needs its token file: it comes from a Secret, under the key the file names.
        let tokens = try #require(
            deployment.serve.tokens, "\(folder): no --tokens, so the server refuses to bind \(deployment.serve.host)")
        #expect(!deployment.serve.allowUnauthenticated)
        let tokenMount = try #require(mount(containing: tokens), "\(folder): no volume holds \(tokens)")
        let secret = try #require(
            volumes[tokenMount.mount["name"]?.string ?? ""]?["secret"], "\(folder): \(tokens) is not on a Secret volume"
        )
        let items = secret["items"]?.sequence ?? []
        let key =
            items.isEmpty
            ? tokenMount.relative : items.first { $0["path"]?.string == tokenMount.relative }?["key"]?.string
        #expect(key != nil, "\(folder): the Secret volume's items do not hold \(tokenMount.relative)")
        if let secretName = secret["secretName"]?.string,
            let generated = deployment.rendering.generatedSecrets[secretName]
        {
            let file = try #require(
                generated[key ?? ""], "\(folder): the generated secret \(secretName) has no key \(key ?? "")")
            _ = try TokenStore(contentsOf: Repository.path(file))
        }

        // The model store is a volume the init container fills from the image's store.
        let models = try #require(
            mount(containing: deployment.serve.models), "\(folder): no volume holds --models \(deployment.serve.models)"
        )
        #expect(models.mount["readOnly"] == .bool(true), "\(folder): the server needs no write access to its models")
        let volumeName = models.mount["name"]?.string ?? ""
        #expect(
            volumes[volumeName]?["emptyDir"] != nil, "\(folder): the model volume is not an emptyDir inside the pod")
        let initContainer = try #require(
            deployment.pod["initContainers"]?.sequence?.first { container in
                container["volumeMounts"]?.sequence?.contains { $0["name"]?.string == volumeName } == true
            }, "\(folder): no init container fills the model volume")
        let command = try ConfideDeployment.strings(try #require(initContainer["command"]), "command")
        let containerfile = try Containerfile(ConfideDeployment.containerfilePath)
        let imageModels = try Serve.parse(try containerfile.execForm("CMD")).models
        let initMount = initContainer["volumeMounts"]?.sequence?.first { $0["name"]?.string == volumeName }
        let destination = try #require(initMount?["mountPath"]?.string)
        #expect(
            command.first == "cp" && command.contains { $0.hasPrefix(imageModels + "/") || $0 == imageModels }
                && command.last.map { $0.hasPrefix(destination) } == true,
            "\(folder): the init container (\(command)) does not copy the image's model store \(imageModels) into \(destination)"
        )
    }

    @Test(arguments: ConfideDeployment.kustomizations)
    func podsRunAsTheImageUserWithoutPrivileges(folder: String) throws {
        let deployment = try ConfideDeployment(folder)
        let containerfile = try Containerfile(ConfideDeployment.containerfilePath)
        let user = try #require(containerfile.finalStage.instructions("USER").last?.arguments)
        let uid = try #require(
            Int(user.split(separator: ":").first ?? ""),
            "the image's USER \(user) is not numeric, so runAsNonRoot cannot check it")
        #expect(uid != 0)
        #expect(deployment.pod.at("securityContext", "runAsNonRoot") == .bool(true))
        #expect(deployment.pod.at("securityContext", "runAsUser") == .int(uid))
        for container in deployment.allContainers {
            #expect(container.at("securityContext", "allowPrivilegeEscalation") == .bool(false))
            #expect(container.at("securityContext", "capabilities", "drop") == .sequence([.string("ALL")]))
        }
    }

    /// Replicas that each generated their own gateway key would refuse requests encrypted to another
    /// replica's key; behind one Service they must share the key from the key provider.
    @Test(arguments: ConfideDeployment.kustomizations)
    func replicasShareOneGatewayKey(folder: String) throws {
        let deployment = try ConfideDeployment(folder)
        if deployment.replicas > 1 {
            #expect(deployment.serve.ohttpKey != nil, "\(folder): \(deployment.replicas) replicas without --ohttp-key")
            #expect(deployment.serve.keyProvider != nil, "\(folder): --ohttp-key without --key-provider")
        }
    }

    @Test func tdxOverlayRunsInATDXGuestWithTheDataHub() throws {
        let deployment = try ConfideDeployment("deploy/kubernetes/overlays/tdx")
        #expect(deployment.pod["runtimeClassName"] == .string("kata-qemu-tdx"))
        // Stock CoCo guests keep configfs-tsm from containers: evidence comes from the attestation agent, whose REST
        // API the kernel parameter turns on.
        #expect(deployment.serve.attestation == .coco)
        let provider = try #require(deployment.serve.keyProvider)
        #expect(
            provider == "cdh" || provider == "cdh:127.0.0.1:8006",
            "the TDX overlay takes keys from \(provider), not the Confidential Data Hub")
        #expect(deployment.replicas > 1)
        let annotations = deployment.deployment.value.at("spec", "template", "metadata", "annotations")?.mapping ?? [:]
        for key in [
            "io.katacontainers.config.hypervisor.default_vcpus", "io.katacontainers.config.hypervisor.default_memory",
        ] {
            let value = try #require(annotations[key]?.string, "no \(key)")
            #expect(Int(value).map { $0 > 0 } == true, "\(key) is \(value), not a positive integer")
        }
        let kernelParameters = try #require(
            annotations["io.katacontainers.config.hypervisor.kernel_params"]?.string, "no kernel_params annotation")
        #expect(kernelParameters.split(separator: " ").contains("agent.guest_components_rest_api=all"))
    }

    @Test func devOverlayServesSimulatedEvidenceOutsideATEE() throws {
        let deployment = try ConfideDeployment("deploy/kubernetes/overlays/dev")
        #expect(deployment.pod["runtimeClassName"] == nil)
        #expect(deployment.serve.attestation == .simulated)
        #expect(deployment.rendering.generatedSecrets["confide-tokens"] != nil)
    }

    @Test func baseLeavesTheEvidenceToTheOverlays() throws {
        for folder in ConfideDeployment.overlays {
            let arguments = try ConfideDeployment.strings(
                try #require(try ConfideDeployment(folder).container["args"]), "args")
            #expect(
                arguments.filter { $0.hasPrefix("--attestation") }.count == 1,
                "\(folder) must choose --attestation once")
        }
    }
}

/// Kubernetes quantities (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/).
enum Quantity {
    static func millicores(_ value: YAMLValue) throws -> Int {
        let text = try #require(value.scalarText)
        if text.hasSuffix("m"), let millis = Int(text.dropLast()) { return millis }
        guard let cores = Double(text) else { throw DeployFileError("\(text) is not a CPU quantity") }
        return Int((cores * 1000).rounded())
    }

    static func bytes(_ value: YAMLValue) throws -> Int {
        let text = try #require(value.scalarText)
        let suffixes: [(String, Int)] = [
            ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40),
            ("k", 1_000), ("M", 1_000_000), ("G", 1_000_000_000), ("T", 1_000_000_000_000),
        ]
        for (suffix, factor) in suffixes where text.hasSuffix(suffix) {
            guard let number = Int(text.dropLast(suffix.count)) else { break }
            return number * factor
        }
        guard let number = Int(text) else { throw DeployFileError("\(text) is not a memory quantity") }
        return number
    }
}
