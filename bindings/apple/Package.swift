// swift-tools-version:5.9
//
// Souk for iOS and macOS: `import Souk`.
//
// Two ways to get libsouk (the C SDK) under the Swift layer:
//  - Souk.xcframework next to this file (scripts/build-xcframework.sh, run on a Mac): a
//    static libsouk with its dependencies for iOS devices, the iOS simulator and macOS.
//    This is what an app ships.
//  - otherwise, an installed libsouk found with pkg-config (`cmake --install build` on a
//    Mac, then `swift build`): for developing the Swift layer and its tests on macOS.
//
// NOT COMPILED: no Swift toolchain exists where this package is developed (see README.md for
// what is checked instead).
import PackageDescription
import Foundation

let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
let haveXCFramework = FileManager.default.fileExists(
    atPath: here.appendingPathComponent("Souk.xcframework").path)

let cTarget: Target = haveXCFramework
    ? .binaryTarget(name: "CSouk", path: "Souk.xcframework")
    : .systemLibrary(name: "CSouk", path: "Sources/CSouk", pkgConfig: "libsouk")

let package = Package(
    name: "Souk",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "Souk", targets: ["Souk"]),
    ],
    targets: [
        cTarget,
        .target(name: "Souk", dependencies: ["CSouk"], path: "Sources/Souk"),
    ]
)
