import Foundation
import Testing

@testable import ConfideCLI

@Suite("The Containerfile builds from what the repository holds and runs the server as it really is")
struct ContainerfileTests {
    let containerfile: Containerfile
    let ignore: DockerIgnore

    init() throws {
        containerfile = try Containerfile(ConfideDeployment.containerfilePath)
        ignore = try DockerIgnore(".dockerignore")
    }

    @Test func everyStageItNamesIsDefinedBeforeUse() throws {
        var defined: Set<String> = []
        for stage in containerfile.stages {
            let isImage = stage.base.contains(":") || stage.base.contains("@") || stage.base == "scratch"
            #expect(
                isImage || defined.contains(stage.base),
                "line \(stage.line): FROM \(stage.base) is neither an earlier stage nor an image with a tag")
            for copy in try containerfile.copies(in: stage) {
                if let from = copy.from {
                    #expect(defined.contains(from), "line \(copy.line): --from=\(from) names no earlier stage")
                }
            }
            if let name = stage.name {
                #expect(!defined.contains(name), "line \(stage.line): a second stage named \(name)")
                defined.insert(name)
            }
        }
    }

    /// FROM models-${MODELS}: the default and every documented choice are stages.
    @Test func everyModelsChoiceIsAStage() throws {
        let choice = try #require(containerfile.globalArguments["MODELS"], "no ARG MODELS before the first FROM")
        let choices = containerfile.stages.compactMap { $0.name }.filter { $0.hasPrefix("models-") }
        #expect(choices.contains("models-\(choice)"), "ARG MODELS=\(choice) names no stage models-\(choice)")
        #expect(
            containerfile.stages.contains { $0.name == "models" && $0.base == "models-\(choice)" },
            "the models stage does not start from the chosen store")
        #expect(choices.count >= 2)
        for stage in choices {
            let name = stage.dropFirst("models-".count)
            let header = try Repository.text(ConfideDeployment.containerfilePath).split(separator: "\n").prefix {
                $0.hasPrefix("#")
            }
            #expect(header.contains { $0.contains("`\(name)`") }, "the header does not document MODELS=\(name)")
        }
    }

    /// The server refuses Swift plugins built by another compiler, and they need the Swift runtime they were built
    /// against: the build and runtime images must carry the same toolchain.
    @Test func buildAndRuntimeShareTheToolchain() throws {
        let build = try #require(containerfile.stage(named: "build"))
        let runtime = containerfile.finalStage
        let version = #/^swift:(\d+\.\d+(?:\.\d+)?)-/#
        let built = try #require(
            build.base.firstMatch(of: version)?.output.1, "the build stage is not an official Swift image")
        let run = try #require(
            runtime.base.firstMatch(of: version)?.output.1, "the runtime stage is not an official Swift image")
        #expect(built == run)
        #expect(runtime.base.hasSuffix("-slim"), "the runtime needs only the Swift runtime libraries")
    }

    @Test func everyCopiedPathExistsAndIsInTheBuildContext() throws {
        for stage in containerfile.stages {
            for copy in try containerfile.copies(in: stage) where copy.from == nil {
                for source in copy.sources {
                    let path = source.hasSuffix("/") ? String(source.dropLast()) : source
                    #expect(
                        Repository.exists(path), "line \(copy.line): COPY \(source), which the repository does not hold"
                    )
                    let exclusion = ignore.exclusion(of: path)
                    #expect(
                        exclusion == nil, "line \(copy.line): .dockerignore excludes \(source) (\(exclusion ?? ""))")
                }
            }
        }
    }

    @Test func dockerIgnoreKeepsBuildOutputsAndSecretsOut() {
        for path in [
            ".build", ".git", "sdk/.build", "handlers/libEcho.so", ".venv", "examples/models/minilm",
            "Package.resolved",
        ] {
            #expect(ignore.exclusion(of: path) != nil, "\(path) would be sent to the builder")
        }
        for path in ["Package.swift", "Sources/ConfideCLI/Serve.swift", "handlers/Echo", "scripts/bootstrap"] {
            #expect(ignore.exclusion(of: path) == nil, "\(path) would be left out of the build")
        }
    }

    /// The build stage must copy every top-level folder a target of Package.swift lives in, or SwiftPM stops.
    @Test func theBuildStageCopiesThePackage() throws {
        let build = try #require(containerfile.stage(named: "build"))
        let copied = Set(
            try containerfile.copies(in: build).filter { $0.from == nil }.flatMap(\.sources).map {
                String($0.split(separator: "/").first ?? "")
            })
        let manifest = try Repository.text("Package.swift")
        var needed: Set<String> = ["Package.swift", "Sources", "Tests"]
        for match in manifest.matches(of: #/path:\s*"([^"/]+)/#) {
            needed.insert(String(match.output.1))
        }
        #expect(needed.count > 3)
        for folder in needed.sorted() {
            #expect(copied.contains(folder), "the build stage does not copy \(folder), which Package.swift uses")
        }
    }

    @Test func scriptsItRunsAreCopiedFirst() throws {
        var runsScripts = false
        for stage in containerfile.stages {
            var copied: [String] = []
            for instruction in stage.instructions {
                if instruction.keyword == "COPY", !instruction.arguments.contains("--from=") {
                    copied += instruction.arguments.split(separator: " ").dropLast().map(String.init)
                }
                guard instruction.keyword == "RUN" else { continue }
                for match in instruction.arguments.matches(of: #/(?:^|[\s;&|])(scripts/[A-Za-z0-9._-]+)/#) {
                    let script = String(match.output.1)
                    runsScripts = true
                    #expect(Repository.exists(script), "line \(instruction.line): runs \(script), which does not exist")
                    #expect(
                        copied.contains { script == $0 || script.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") },
                        "line \(instruction.line): runs \(script) before copying it")
                }
            }
        }
        #expect(runsScripts)
    }

    @Test func theImageRunsConfideServeOnTheServersPorts() throws {
        let serve = try ConfideDeployment.serve(for: nil, containerfile: containerfile)
        let exposed = Set(
            try containerfile.finalStage.instructions("EXPOSE").flatMap { instruction in
                try instruction.arguments.split(separator: " ").map { word in
                    try #require(Int(word.split(separator: "/").first ?? ""), "EXPOSE \(word) is not a port")
                }
            })
        #expect(exposed == Set([serve.port, serve.metricsPort] + (serve.noGrpc ? [] : [serve.grpcPort])))
        #expect(serve.host == "0.0.0.0", "a container's server must bind every address")
        #expect(
            serve.tokens != nil && !serve.allowUnauthenticated, "off loopback the image's default must require tokens")
        let destinations = try containerfile.copies(in: containerfile.finalStage).map {
            $0.destination.hasSuffix("/") ? String($0.destination.dropLast()) : $0.destination
        }
        #expect(
            destinations.contains(serve.handlers),
            "--handlers \(serve.handlers) is not where the image puts the plugins")
        #expect(destinations.contains(serve.models), "--models \(serve.models) is not where the image puts the models")
        let entrypoint = try containerfile.execForm("ENTRYPOINT")
        #expect(destinations.contains(entrypoint[0]), "the entrypoint \(entrypoint[0]) is not the copied binary")
    }

    /// Kubernetes' `args` replace CMD but keep the ENTRYPOINT: the manifests rely on the ENTRYPOINT being
    /// `confide serve` and nothing deployment-specific.
    @Test func theEntrypointFixesOnlyWhatTheImageDecides() throws {
        let entrypoint = try containerfile.execForm("ENTRYPOINT")
        let options = entrypoint.dropFirst(2).filter { $0.hasPrefix("--") }.map {
            $0.split(separator: "=").first.map(String.init) ?? $0
        }
        #expect(options == ["--handlers"], "the ENTRYPOINT sets \(options); only --handlers belongs to the image")
    }
}
