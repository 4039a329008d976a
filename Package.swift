// swift-tools-version: 6.1
import PackageDescription

// podpipe: a drop folder of podcast event logs (NDJSON) and reference exports (CSV)
// turned into a bronze/silver/gold SQLite database, exactly once per file.
//
// Targets, from the inside out:
// - PodpipeRules: pure logic with no dependencies (the NDJSON scanner, the validation
//   rules, timestamp and CSV-row rules). Tests and fuzzers call it without a disk.
// - PodpipeSampleData: the deterministic generator of realistic dirty data.
// - PodpipeCore: the pipeline (readers, ledger, store, ingest, gold, reports, config).
// - podpiped / podpipectl: thin executables over PodpipeCore.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6)
]

let package = Package(
    name: "podpipe",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "podpiped", targets: ["podpiped"]),
        .executable(name: "podpipectl", targets: ["podpipectl"]),
        .library(name: "PodpipeCore", targets: ["PodpipeCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        // libpq, PostgreSQL's reference client (issue 18): synchronous like the writer
        // thread, with COPY and pipelining; postgres-nio has neither binary COPY nor
        // pipelining and adds minutes to every clean build (doc/architecture.md).
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // glibc's mallopt (ProcessMemory): a header only, nothing to link.
        .systemLibrary(name: "CMalloc"),
        .target(
            name: "PodpipeRules",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PodpipeSampleData",
            dependencies: ["CZlib"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PodpipeCore",
            dependencies: [
                "PodpipeRules",
                "CMalloc",
                "CZlib",
                "CSystemd",
                "CLibPQ",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            resources: [.copy("SQL")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "podpiped",
            dependencies: [
                "PodpipeCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "podpipectl",
            dependencies: [
                "PodpipeCore",
                "PodpipeSampleData",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PodpipeRulesTests",
            dependencies: ["PodpipeRules", "PodpipeSampleData"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PodpipeSampleDataTests",
            dependencies: ["PodpipeSampleData"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PodpipeCoreTests",
            dependencies: ["PodpipeCore", "PodpipeSampleData"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PodpipeIntegrationTests",
            // CZlib: the screenshot check of the HTML report inflates Chromium's PNG.
            dependencies: ["PodpipeCore", "PodpipeSampleData", "CZlib"],
            swiftSettings: swiftSettings
        ),
    ]
)
