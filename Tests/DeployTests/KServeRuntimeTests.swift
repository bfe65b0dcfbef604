import ArgumentParser
import Foundation
import Testing

@testable import ConfideCLI

/// Confide as a KServe serving runtime (`deploy/kserve/`): the runtime, the example InferenceServices and the
/// autoscaling example, checked against the real `confide serve` command line, its ports and its metrics.
@Suite("KServe: the serving runtime and its InferenceServices match the server")
struct KServeRuntimeTests {
    static let folder = "deploy/kserve"
    static let runtimeName = "kserve-confide"

    /// Every object of every file under deploy/kserve.
    static func objects() throws -> [KubernetesObject] {
        try Repository.files(under: folder, extensions: ["yaml", "yml"]).flatMap { file in
            try YAMLValue.documents(try Repository.text(file), file: file).map {
                KubernetesObject(value: $0, file: file)
            }
        }
    }

    static func runtime() throws -> (object: KubernetesObject, container: YAMLValue) {
        let runtimes = try objects().filter { $0.kind == "ClusterServingRuntime" && $0.name == runtimeName }
        let runtime = try #require(
            runtimes.count == 1 ? runtimes.first : nil, "one ClusterServingRuntime \(runtimeName)")
        #expect(runtime.value["apiVersion"] == .string("serving.kserve.io/v1alpha1"))
        let containers = try #require(runtime.value.at("spec", "containers")?.sequence)
        // KServe merges an InferenceService's container into the runtime's container of this name.
        let container = try #require(containers.first { $0["name"]?.string == "kserve-container" })
        #expect(containers.count == 1)
        return (runtime, container)
    }

    static func inferenceServices() throws -> [KubernetesObject] {
        try objects().filter { $0.kind == "InferenceService" }
    }

    /// What the server of an InferenceService runs: the image's entrypoint, the runtime's `args` with KServe's
    /// `{{.Name}}` replaced by the service's name, then the service's own `args`, parsed by the real `confide serve`.
    static func serve(for service: KubernetesObject) throws -> Serve {
        let (_, container) = try runtime()
        let containerfile = try Containerfile(ConfideDeployment.containerfilePath)
        let entrypoint = try containerfile.execForm("ENTRYPOINT")
        let runtimeArguments = try ConfideDeployment.strings(try #require(container["args"]), "args")
            .map { $0.replacing("{{.Name}}", with: service.name) }
        let own = try service.value.at("spec", "predictor", "model", "args").map {
            try ConfideDeployment.strings($0, "args")
        }
        let line = entrypoint + runtimeArguments + (own ?? [])
        #expect(line.count >= 2 && line[1] == "serve")
        do {
            return try Serve.parse(Array(line.dropFirst(2)))
        } catch {
            throw DeployFileError(
                "\(service.file): confide serve refuses \(line.dropFirst(2)): \(Serve.message(for: error))")
        }
    }

    @Test func theRuntimeServesOneModelFromTheStorageInitializersFolderUnderTheServicesName() throws {
        let (runtime, container) = try Self.runtime()
        #expect(
            runtime.value.at("spec", "protocolVersions") == .sequence([.string("v2"), .string("grpc-v2")]),
            "KServe picks the runtime for v2 and grpc-v2 InferenceServices")
        let arguments = try ConfideDeployment.strings(try #require(container["args"]), "args")
        #expect(
            arguments.contains("--model-name={{.Name}}"), "the model must be served under the InferenceService's name")
        for service in try Self.inferenceServices() {
            let serve = try Self.serve(for: service)
            // KServe's storage initializer downloads storageUri to /mnt/models.
            #expect(serve.modelDir == "/mnt/models", "\(service.file): the model is not read from /mnt/models")
            #expect(serve.modelName == service.name)
            #expect(serve.host == "0.0.0.0", "\(service.file): --host \(serve.host) is unreachable from the ingress")
            #expect(serve.port == 8080, "\(service.file): KServe sends REST to 8080, not \(serve.port)")
            #expect(!serve.noGrpc && serve.grpcPort > 0)
            #expect(
                service.value.at("spec", "predictor", "model", "storageUri")?.string?.isEmpty == false,
                "\(service.file): no storageUri for the storage initializer")
        }
    }

    /// Knative routes one port per container: the runtime declares none (HTTP on 8080); an InferenceService of the
    /// gRPC protocol names the server's gRPC port `h2c`, so that Knative speaks HTTP/2 to it.
    @Test func eachProtocolReachesThePortTheServerListensOn() throws {
        let (runtime, container) = try Self.runtime()
        #expect(container["ports"] == nil, "a port in the runtime would be merged with the InferenceService's")
        let protocols = runtime.value.at("spec", "protocolVersions")?.sequence?.compactMap(\.string) ?? []
        let services = try Self.inferenceServices()
        #expect(
            Set(services.compactMap { $0.value.at("spec", "predictor", "model", "protocolVersion")?.string })
                == ["v2", "grpc-v2"], "an example for each protocol")
        for service in services {
            let serve = try Self.serve(for: service)
            let model = try #require(service.value.at("spec", "predictor", "model"))
            let version = try #require(model["protocolVersion"]?.string, "\(service.file): no protocolVersion")
            #expect(protocols.contains(version), "\(service.file): the runtime does not speak \(version)")
            let ports = model["ports"]?.sequence ?? []
            switch version {
            case "grpc-v2":
                #expect(
                    ports.count == 1 && ports.first?["name"] == .string("h2c"), "\(service.file): one port named h2c")
                #expect(
                    ports.first?["containerPort"] == .int(serve.grpcPort), "\(service.file): h2c is not --grpc-port")
            default:
                #expect(ports.isEmpty, "\(service.file): REST is served on KServe's default port")
            }
        }
    }

    @Test func modelFormatsAreConfideOrAHandlerItShips() throws {
        let (runtime, _) = try Self.runtime()
        let formats =
            runtime.value.at("spec", "supportedModelFormats")?.sequence?.compactMap { $0["name"]?.string } ?? []
        #expect(formats.contains("confide"))
        for format in formats where format != "confide" {
            let sources = Repository.files(under: "handlers", extensions: ["swift"])
            let declares = try sources.contains { try Repository.text($0).contains("static let name = \"\(format)\"") }
            #expect(declares, "model format \(format) names no handler of handlers/")
        }
        for service in try Self.inferenceServices() {
            let format = service.value.at("spec", "predictor", "model", "modelFormat", "name")?.string
            #expect(
                format.map(formats.contains) == true, "\(service.file): format \(format ?? "none") is not the runtime's"
            )
            #expect(service.value.at("spec", "predictor", "model", "runtime") == .string(Self.runtimeName))
        }
    }

    @Test func theRuntimeRunsWithTokensWithoutPrivilegesOnWholeCPUs() throws {
        let (runtime, container) = try Self.runtime()
        let serve = try Self.serve(for: try #require(try Self.inferenceServices().first))
        // Off loopback the server refuses to start without tokens; they come from a Secret the runtime mounts.
        let tokens = try #require(serve.tokens, "off loopback the server needs --tokens")
        let mount = try #require(
            container["volumeMounts"]?.sequence?.first { mount in
                mount["mountPath"]?.string.map { tokens.hasPrefix($0 + "/") } == true
            }, "no volume holds \(tokens)")
        let volumes = runtime.value.at("spec", "volumes")?.sequence ?? []
        #expect(
            volumes.contains { $0["name"] == mount["name"] && $0["secret"] != nil }, "the token file is not a Secret")
        let containerfile = try Containerfile(ConfideDeployment.containerfilePath)
        let user = try #require(containerfile.finalStage.instructions("USER").last?.arguments)
        #expect(container.at("securityContext", "runAsUser") == .int(Int(user.split(separator: ":").first ?? "") ?? -1))
        #expect(container.at("securityContext", "allowPrivilegeEscalation") == .bool(false))
        #expect(container.at("securityContext", "capabilities", "drop") == .sequence([.string("ALL")]))
        let requests = try #require(container.at("resources", "requests"))
        #expect(requests == container.at("resources", "limits"), "Guaranteed QoS: requests equal limits")
        #expect(requests["cpu"]?.scalarText.flatMap(Int.init).map { $0 > 0 } == true, "whole CPUs")
        let annotations = runtime.value.at("spec", "annotations")?.mapping ?? [:]
        #expect(annotations["prometheus.kserve.io/port"] == .string(String(serve.metricsPort)))
        #expect(!serve.noMetrics)
    }

    /// The examples run in a TDX guest and take evidence from the guest's attestation agent, whose REST API the
    /// kernel parameter turns on.
    @Test func confidentialServicesRunInATDXGuestWithTheAgent() throws {
        for service in try Self.inferenceServices() {
            let predictor = try #require(service.value.at("spec", "predictor"))
            #expect(predictor["runtimeClassName"] == .string("kata-qemu-tdx"), "\(service.file)")
            let serve = try Self.serve(for: service)
            #expect(serve.attestation == .coco, "\(service.file)")
            let parameters = predictor.at("annotations", "io.katacontainers.config.hypervisor.kernel_params")?.string
            #expect(parameters?.split(separator: " ").contains("agent.guest_components_rest_api=all") == true)
        }
    }

    /// KEDA scales the Deployment KServe makes in raw mode, on queries over metrics a real server exports for the
    /// model, named as the service; replicas beyond one share the gateway key.
    @Test func autoscalingScalesTheServicesDeploymentOnMetricsTheServerExports() async throws {
        let scaled = try Self.objects().filter { $0.kind == "ScaledObject" }
        #expect(!scaled.isEmpty)
        let exported = try await ExportedMetrics.scrape()
        for object in scaled {
            let target = try #require(object.value.at("spec", "scaleTargetRef", "name")?.string)
            let service = try #require(
                try Self.inferenceServices().first { "\($0.name)-predictor" == target },
                "\(object.file): \(target) is the Deployment of no InferenceService")
            let annotations = service.value.at("metadata", "annotations")?.mapping ?? [:]
            #expect(annotations["serving.kserve.io/deploymentMode"] == .string("RawDeployment"))
            #expect(
                annotations["serving.kserve.io/autoscalerClass"] == .string("external"), "KServe's HPA would fight KEDA"
            )
            let maximum = try #require(object.value.at("spec", "maxReplicaCount"))
            if maximum != .int(1) {
                let serve = try Self.serve(for: service)
                #expect(
                    serve.ohttpKey != nil && serve.keyProvider != nil, "\(object.file): replicas without --ohttp-key")
            }
            let triggers = object.value.at("spec", "triggers")?.sequence ?? []
            #expect(!triggers.isEmpty)
            for trigger in triggers {
                #expect(trigger["type"] == .string("prometheus"))
                let query = try #require(trigger.at("metadata", "query")?.string)
                let names = try PromQLNames(query)
                #expect(names.functions.isSubset(of: PromQLNames.knownFunctions), "\(query)")
                #expect(!names.metrics.isEmpty && names.metrics.isSubset(of: exported.sampleNames), "\(query)")
                #expect(names.labels.isSubset(of: exported.labelNames), "\(query)")
                #expect(query.contains("model=\"\(service.name)\""), "\(query) does not select the service's model")
                #expect(trigger.at("metadata", "threshold")?.string.flatMap(Double.init).map { $0 > 0 } == true)
            }
        }
    }
}
