import ArgumentParser
import ConfideSDK
import Foundation

/// `confide new`: start a project of one's own, outside this repository.
struct New: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a project of your own that builds against the published SDK.",
        subcommands: [NewHandler.self])
}

/// `confide new handler NAME`: a Swift package with a handler, its test and an example model.
struct NewHandler: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "handler",
        abstract: "Create a Swift package holding a handler, its HandlerTester test and an example model.",
        discussion: """
            The package depends on the SDK by URL and version, so it builds anywhere with the Swift toolchain the \
            server was built with. Its README says how to build, test and serve it.
            """)

    @Argument(help: "The package's name, also its folder, handler type and library (UpperCamelCase: A-Z a-z 0-9 _).")
    var name: String

    @Option(help: "The folder that receives the package's folder.")
    var path = "."

    @Option(help: "The Git URL of the SDK's repository.")
    var sdkURL = HandlerTemplate.defaultSDKURL

    @Option(help: "The lowest SDK release the package accepts, up to the next major (X.Y.Z).")
    var sdkVersion = SDKRelease.version

    func run() throws {
        let template: HandlerTemplate
        do {
            template = try HandlerTemplate(name: name, sdkURL: sdkURL, sdkVersion: sdkVersion)
        } catch {
            throw ValidationError(error.description)
        }
        let folder = try template.write(into: URL(fileURLWithPath: path, isDirectory: true))
        print("Created \(folder.path): the handler '\(template.handlerName)' (Sources/\(name)/\(name).swift).")
        print("Next: cd \(folder.path) && swift build -c release && swift test   (see its README.md)")
    }
}
