/// A Kubernetes object of a rendering, with the file it came from.
struct KubernetesObject {
    var value: YAMLValue
    let file: String

    var kind: String { value["kind"]?.string ?? "" }
    var name: String { value.at("metadata", "name")?.string ?? "" }
}

/// What `kustomize build` makes of a folder, for the features this repository's kustomizations use:
/// `resources` (files and folders), `replicas`, `images`, `patches` (JSON 6902 patch files with a target)
/// and `secretGenerator` (from files). Anything else is refused, so that a kustomization these tests cannot
/// render fails them instead of passing unchecked.
struct Rendering {
    /// The objects, after every overlay's changes.
    private(set) var objects: [KubernetesObject] = []
    /// The secrets a `secretGenerator` makes: name → key → the file it holds, relative to the repository.
    private(set) var generatedSecrets: [String: [String: String]] = [:]
    /// Every file the kustomizations read, relative to the repository.
    private(set) var files: Set<String> = []

    static let supportedFields: Set<String> = [
        "apiVersion", "kind", "resources", "replicas", "images", "patches", "secretGenerator",
    ]

    /// Renders the kustomization in `folder` (relative to the repository).
    init(_ folder: String) throws {
        try render(folder)
    }

    /// The one object of a kind and name.
    func object(kind: String, name: String) throws -> KubernetesObject {
        let matches = objects.filter { $0.kind == kind && $0.name == name }
        guard matches.count == 1 else {
            throw DeployFileError("the rendering holds \(matches.count) \(kind) objects named \(name), not one")
        }
        return matches[0]
    }

    func objects(kind: String) -> [KubernetesObject] {
        objects.filter { $0.kind == kind }
    }

    private mutating func render(_ folder: String) throws {
        let file = folder + "/kustomization.yaml"
        guard Repository.exists(file) else { throw DeployFileError("\(folder) holds no kustomization.yaml") }
        files.insert(file)
        let documents = try YAMLValue.documents(try Repository.text(file), file: file)
        guard documents.count == 1, let kustomization = documents[0].mapping else {
            throw DeployFileError("\(file) must hold one mapping")
        }
        guard documents[0]["apiVersion"]?.string == "kustomize.config.k8s.io/v1beta1",
            documents[0]["kind"]?.string == "Kustomization"
        else {
            throw DeployFileError("\(file) must be apiVersion kustomize.config.k8s.io/v1beta1, kind Kustomization")
        }
        if let unknown = kustomization.keys.sorted().first(where: { !Self.supportedFields.contains($0) }) {
            throw DeployFileError(
                "\(file): '\(unknown)' is not rendered by these tests (they render \(Self.supportedFields.sorted()))")
        }
        for resource in try strings(documents[0]["resources"], "resources", file) {
            guard let path = Repository.resolve(resource, in: folder), Repository.exists(path) else {
                throw DeployFileError("\(file): resource \(resource) does not exist")
            }
            if Repository.isDirectory(path) {
                try render(path)
            } else {
                try load(path)
            }
        }
        for generator in documents[0]["secretGenerator"]?.sequence ?? [] {
            try generateSecret(generator, folder: folder, file: file)
        }
        for replicas in documents[0]["replicas"]?.sequence ?? [] {
            guard let name = replicas["name"]?.string, case .int(let count)? = replicas["count"] else {
                throw DeployFileError("\(file): each replicas entry needs a name and an integer count")
            }
            try change(kinds: Self.scalableKinds, name: name, file: file) { object in
                try PatchOperation(kind: .add, path: ["spec", "replicas"], value: .int(count)).apply(to: &object)
            }
        }
        for image in documents[0]["images"]?.sequence ?? [] {
            try setImage(image, file: file)
        }
        for patch in documents[0]["patches"]?.sequence ?? [] {
            guard let path = patch["path"]?.string, let kind = patch.at("target", "kind")?.string,
                let name = patch.at("target", "name")?.string
            else {
                throw DeployFileError("\(file): each patch needs a path and a target with kind and name")
            }
            guard let patchFile = Repository.resolve(path, in: folder), Repository.exists(patchFile) else {
                throw DeployFileError("\(file): patch \(path) does not exist")
            }
            files.insert(patchFile)
            let patchDocuments = try YAMLValue.documents(try Repository.text(patchFile), file: patchFile)
            guard patchDocuments.count == 1 else { throw DeployFileError("\(patchFile) must hold one document") }
            let operations = try PatchOperation.list(patchDocuments[0], file: patchFile)
            try change(kinds: [kind], name: name, file: patchFile) { object in
                for operation in operations {
                    do {
                        try operation.apply(to: &object)
                    } catch let error as DeployFileError {
                        throw DeployFileError("\(patchFile): \(error)")
                    }
                }
            }
        }
    }

    private mutating func load(_ file: String) throws {
        files.insert(file)
        for document in try YAMLValue.documents(try Repository.text(file), file: file) where document != .null {
            guard document["apiVersion"]?.string?.isEmpty == false, document["kind"]?.string?.isEmpty == false,
                document.at("metadata", "name")?.string?.isEmpty == false
            else {
                throw DeployFileError(
                    "\(file): every document must be a Kubernetes object with apiVersion, kind and metadata.name")
            }
            objects.append(KubernetesObject(value: document, file: file))
        }
    }

    private mutating func generateSecret(_ generator: YAMLValue, folder: String, file: String) throws {
        guard let name = generator["name"]?.string else {
            throw DeployFileError("\(file): a secretGenerator needs a name")
        }
        if let unknown = generator.mapping?.keys.sorted().first(where: { !["name", "files", "options"].contains($0) }) {
            throw DeployFileError("\(file): secretGenerator '\(unknown)' is not rendered by these tests")
        }
        guard generator.at("options", "disableNameSuffixHash") == .bool(true) else {
            throw DeployFileError(
                "\(file): secret \(name) needs options.disableNameSuffixHash (these tests do not rewrite hashed names)")
        }
        var keys: [String: String] = [:]
        for entry in try strings(generator["files"], "secretGenerator.files", file) {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            let source = parts.last ?? entry
            let key = parts.count == 2 ? parts[0] : String(source.split(separator: "/").last ?? Substring(source))
            guard let path = Repository.resolve(source, in: folder), Repository.exists(path) else {
                throw DeployFileError("\(file): secret \(name) reads \(source), which does not exist")
            }
            files.insert(path)
            keys[key] = path
        }
        generatedSecrets[name] = keys
        objects.append(
            KubernetesObject(
                value: .mapping([
                    "apiVersion": .string("v1"), "kind": .string("Secret"),
                    "metadata": .mapping(["name": .string(name)]),
                ]),
                file: file))
    }

    private mutating func setImage(_ image: YAMLValue, file: String) throws {
        guard let name = image["name"]?.string else { throw DeployFileError("\(file): each images entry needs a name") }
        let newName = image["newName"]?.string ?? name
        let suffix = image["digest"]?.string.map { "@" + $0 } ?? image["newTag"]?.scalarText.map { ":" + $0 } ?? ""
        for index in objects.indices {
            for list in ["containers", "initContainers"] {
                guard let containers = objects[index].value.at("spec", "template", "spec", list)?.sequence else {
                    continue
                }
                for (position, container) in containers.enumerated() {
                    guard let current = container["image"]?.string, Self.imageName(current) == name else { continue }
                    let operation = PatchOperation(
                        kind: .replace, path: ["spec", "template", "spec", list, String(position), "image"],
                        value: .string(newName + suffix))
                    try operation.apply(to: &objects[index].value)
                }
            }
        }
    }

    /// An image reference without its tag or digest.
    static func imageName(_ reference: String) -> String {
        let withoutDigest = reference.split(separator: "@").first.map(String.init) ?? reference
        guard let colon = withoutDigest.lastIndex(of: ":"), !withoutDigest[colon...].contains("/") else {
            return withoutDigest
        }
        return String(withoutDigest[..<colon])
    }

    /// The kinds whose `spec.replicas` a `replicas` entry sets.
    static let scalableKinds: Set<String> = ["Deployment", "ReplicaSet", "ReplicationController", "StatefulSet"]

    private mutating func change(
        kinds: Set<String>, name: String, file: String, _ body: (inout YAMLValue) throws -> Void
    ) throws {
        let indices = objects.indices.filter { kinds.contains(objects[$0].kind) && objects[$0].name == name }
        guard !indices.isEmpty else {
            throw DeployFileError(
                "\(file) targets \(kinds.sorted().joined(separator: " or ")) named \(name), which the resources do not define"
            )
        }
        for index in indices {
            try body(&objects[index].value)
        }
    }

    private func strings(_ value: YAMLValue?, _ field: String, _ file: String) throws -> [String] {
        guard let value else { return [] }
        guard let items = value.sequence?.compactMap(\.string), items.count == value.sequence?.count else {
            throw DeployFileError("\(file): \(field) must be a list of strings")
        }
        return items
    }
}
