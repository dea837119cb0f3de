package io.souk.android

import android.content.Context
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.util.Base64
import java.security.KeyStore
import java.security.SecureRandom
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * The 32-byte key of Souk's encrypted store, kept with the Android Keystore.
 *
 * The key is generated once with SecureRandom and stored in the app's private preferences,
 * wrapped (AES-256-GCM) by a non-exportable Keystore key that never leaves the secure
 * hardware where the device has it. Uninstalling the app, or clearing its data, loses it —
 * with the store it protects.
 *
 * NOT COMPILED where this module is developed (Android-only APIs): see README.md.
 */
object SoukKeys {
    private const val ALIAS = "io.souk.database-key-wrap"
    private const val PREFS = "io.souk.keys"
    private const val ENTRY = "database-key"

    /** The database key for [io.souk.SoukConfig.databaseKey]; the same on every call. */
    @Synchronized
    fun databaseKey(context: Context): ByteArray {
        val prefs = context.getSharedPreferences(PREFS, Context.MODE_PRIVATE)
        prefs.getString(ENTRY, null)?.let { return unwrap(it) }
        val key = ByteArray(32).also { SecureRandom().nextBytes(it) }
        check(prefs.edit().putString(ENTRY, wrap(key)).commit()) { "cannot store the Souk database key" }
        return key
    }

    private fun wrappingKey(): SecretKey {
        val ks = KeyStore.getInstance("AndroidKeyStore").apply { load(null) }
        (ks.getKey(ALIAS, null) as? SecretKey)?.let { return it }
        val gen = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, "AndroidKeyStore")
        gen.init(
            KeyGenParameterSpec.Builder(ALIAS, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
                .build())
        return gen.generateKey()
    }

    private fun wrap(key: ByteArray): String {
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.ENCRYPT_MODE, wrappingKey())
        val iv = cipher.iv
        val sealed = cipher.doFinal(key)
        return Base64.encodeToString(byteArrayOf(iv.size.toByte()) + iv + sealed, Base64.NO_WRAP)
    }

    private fun unwrap(stored: String): ByteArray {
        val bytes = Base64.decode(stored, Base64.NO_WRAP)
        val ivLen = bytes[0].toInt()
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.DECRYPT_MODE, wrappingKey(), GCMParameterSpec(128, bytes, 1, ivLen))
        return cipher.doFinal(bytes, 1 + ivLen, bytes.size - 1 - ivLen)
    }
}
