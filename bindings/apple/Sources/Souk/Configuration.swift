// Configuration.swift — what a SoukClient is made from.
//
// NOT COMPILED here (no Swift toolchain): see README.md.
import Foundation

/// Log levels; a level includes the more severe ones.
public enum LogLevel: Int, Sendable {
    case none = 0, error = 1, warn = 2, info = 3, debug = 4
}

/// The platform the client reports to the server.
public enum Platform: Int, Sendable {
    case unspecified = 0, iOS = 1, android = 2, web = 3, desktop = 4
}

/// What a ``SoukClient`` is made from. Only the first four are required.
///
/// ```swift
/// let souk = try SoukClient(configuration: .init(
///     serverURL: "wss://chat.example.com",
///     appID: "app_5c2f…",
///     databaseURL: appSupport.appendingPathComponent("souk.db"),
///     databaseKey: try SoukKeychain.databaseKey()))   // 32 bytes kept in the Keychain
/// ```
public struct SoukConfiguration: Sendable {
    /// `wss://host[:port][/path]` (`ws://` for loopback and development); the path defaults to /v1/ws.
    public var serverURL: String
    /// The app id from the Souk console (`soukctl app create`).
    public var appID: String
    /// The database file; its directory must exist. Exclude it from iCloud backups if you wish.
    public var databaseURL: URL
    /// The 32-byte raw key of the encrypted store: generate it once (`SecRandomCopyBytes`) and
    /// keep it in the Keychain (kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly).
    public var databaseKey: Data
    /// A stable id of this installation; nil: generated once and kept in the store.
    public var deviceID: String?
    public var platform: Platform = .iOS
    /// A PEM file of trusted CAs; nil: the system's.
    public var tlsCAFile: String?
    /// Base64 SHA-256 digests of SubjectPublicKeyInfo (HPKP format). Pin a backup key too.
    public var tlsPins: [String] = []
    /// 0 means libsouk's default for each of these.
    public var heartbeatSeconds: UInt32 = 0
    public var reconnectMinMillis: UInt32 = 0
    public var reconnectMaxMillis: UInt32 = 0
    public var maxQueuedEvents: Int = 0
    public var logLevel: LogLevel = .warn
    /// Receives libsouk's log lines, on whichever thread logs (mostly libsouk's own). Lines never
    /// contain message text, tokens or keys. It must not call back into Souk.
    public var logger: (@Sendable (LogLevel, String) -> Void)?

    public init(serverURL: String, appID: String, databaseURL: URL, databaseKey: Data) {
        self.serverURL = serverURL
        self.appID = appID
        self.databaseURL = databaseURL
        self.databaseKey = databaseKey
    }
}
