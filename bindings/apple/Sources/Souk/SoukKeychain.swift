// SoukKeychain.swift — the 32-byte key of Souk's encrypted store, kept in the Keychain.
//
// NOT COMPILED here (no Swift toolchain): see README.md.
import Foundation
import Security

/// Generates the database key once (SecRandomCopyBytes) and keeps it in the Keychain as a
/// generic password readable after the first unlock, on this device only (never in backups
/// or iCloud Keychain: the store it opens is not migrated either).
public enum SoukKeychain {
    private static let service = "io.souk.database-key"

    /// The key for ``SoukConfiguration/databaseKey``; the same on every call.
    public static func databaseKey(account: String = "default") throws -> Data {
        let query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
            kSecReturnData as String: true,
        ]
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        if status == errSecSuccess, let data = item as? Data, data.count == 32 {
            return data
        }
        guard status == errSecItemNotFound else { throw SoukError.storage("Keychain read failed (\(status))") }
        var key = Data(count: 32)
        let r = key.withUnsafeMutableBytes { SecRandomCopyBytes(kSecRandomDefault, 32, $0.baseAddress!) }
        guard r == errSecSuccess else { throw SoukError.internalError("SecRandomCopyBytes failed (\(r))") }
        let add: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
            kSecAttrAccessible as String: kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
            kSecValueData as String: key,
        ]
        let added = SecItemAdd(add as CFDictionary, nil)
        guard added == errSecSuccess else { throw SoukError.storage("Keychain write failed (\(added))") }
        return key
    }
}
