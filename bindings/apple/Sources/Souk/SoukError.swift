// SoukError.swift — libsouk's error codes (docs/errors.md) as a Swift Error.
//
// NOT COMPILED here (no Swift toolchain): see README.md.
import CSouk

/// Every failure of the Souk API. The case tells what happened and what to do; the associated
/// string is libsouk's specific reason (for logs, not for shoppers).
public enum SoukError: Error, Sendable, Equatable {
    /// An argument is invalid: empty or malformed text, a bad URL, a key that is not 32 bytes…
    case invalidArgument(String)
    case outOfMemory(String)
    /// Not allowed now (e.g. `setToken` before `login`, resending a message that did not fail).
    case invalidState(String)
    /// No such message or conversation in the local store.
    case notFound(String)
    case timeout(String)
    /// The local database failed: I/O error, disk full, corrupt file. Nothing was half-written.
    case storage(String)
    /// The key does not open the database (or it is not a Souk database). The file is left untouched.
    case wrongKey(String)
    /// A packaging error: the SQLite in the process does not encrypt; libsouk refuses plaintext.
    case encryptionUnavailable(String)
    /// The database was written by a newer libsouk.
    case schemaTooNew(String)
    /// Over the protocol's 16 KiB content limit.
    case tooLarge(String)
    /// In events: the server refused the token or the app id. Call `setToken`.
    case authentication(String)
    /// In events: the store belongs to another user. `logout(wipe: true)` first.
    case userMismatch(String)
    /// In events: the connection failed or was lost; the SDK retries by itself.
    case network(String)
    /// In events: the server sent something this SDK cannot accept; it reconnects.
    case protocolError(String)
    /// A bug in libsouk; please report it.
    case internalError(String)
    /// The client was closed.
    case closed
    /// The loaded libsouk is not the one this Swift code was built for.
    case incompatibleLibrary(String)
    /// A code added by a newer libsouk.
    case unknown(code: Int32, String)

    /// Maps a libsouk code (negative) and its message.
    public init(code: Int32, message: String) {
        switch code {
        case -1: self = .invalidArgument(message)
        case -2: self = .outOfMemory(message)
        case -3: self = .invalidState(message)
        case -4: self = .notFound(message)
        case -5: self = .timeout(message)
        case -6: self = .storage(message)
        case -7: self = .wrongKey(message)
        case -8: self = .encryptionUnavailable(message)
        case -9: self = .schemaTooNew(message)
        case -10: self = .tooLarge(message)
        case -11: self = .authentication(message)
        case -12: self = .userMismatch(message)
        case -13: self = .network(message)
        case -14: self = .protocolError(message)
        case -15: self = .internalError(message)
        default: self = .unknown(code: code, message)
        }
    }

    /// libsouk's code for this error (SOUK_E*).
    public var code: Int32 {
        switch self {
        case .invalidArgument: return -1
        case .outOfMemory: return -2
        case .invalidState, .closed: return -3
        case .notFound: return -4
        case .timeout: return -5
        case .storage: return -6
        case .wrongKey: return -7
        case .encryptionUnavailable: return -8
        case .schemaTooNew: return -9
        case .tooLarge: return -10
        case .authentication: return -11
        case .userMismatch: return -12
        case .network: return -13
        case .protocolError: return -14
        case .internalError, .incompatibleLibrary: return -15
        case .unknown(let code, _): return code
        }
    }
}

extension SoukError: CustomStringConvertible {
    public var description: String {
        let name = String(cString: souk_strerror(code))
        switch self {
        case .closed: return "\(name): the client is closed"
        case .invalidArgument(let m), .outOfMemory(let m), .invalidState(let m), .notFound(let m),
             .timeout(let m), .storage(let m), .wrongKey(let m), .encryptionUnavailable(let m),
             .schemaTooNew(let m), .tooLarge(let m), .authentication(let m), .userMismatch(let m),
             .network(let m), .protocolError(let m), .internalError(let m), .incompatibleLibrary(let m),
             .unknown(_, let m):
            return m.isEmpty ? name : "\(name): \(m)"
        }
    }
}
