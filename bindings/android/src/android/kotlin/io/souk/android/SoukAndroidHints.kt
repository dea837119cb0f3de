package io.souk.android

import android.content.Context
import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities
import androidx.lifecycle.DefaultLifecycleObserver
import androidx.lifecycle.LifecycleOwner
import androidx.lifecycle.ProcessLifecycleOwner
import io.souk.Souk
import io.souk.SoukException
import java.io.Closeable

/**
 * Tells a [Souk] client what Android knows: the app's process coming to the foreground or
 * going to the background (ProcessLifecycleOwner), and the default network appearing,
 * changing or going away (ConnectivityManager). Create it once, after the client, on the main
 * thread; [close] it before closing the client.
 *
 * ```
 * val hints = SoukAndroidHints(context, souk)
 * ```
 *
 * Hints only change timing (connect now, disconnect in the background once the outbox is
 * sent); what is delivered never depends on them. Push notifications: call
 * `souk.onPushReceived()` from your FirebaseMessagingService.
 *
 * NOT COMPILED where this module is developed (Android-only APIs): see README.md.
 */
class SoukAndroidHints(context: Context, private val souk: Souk) : Closeable {
    private val connectivity = context.getSystemService(ConnectivityManager::class.java)

    private val lifecycle = object : DefaultLifecycleObserver {
        override fun onStart(owner: LifecycleOwner) = hint { souk.onForeground() }
        override fun onStop(owner: LifecycleOwner) = hint { souk.onBackground() }
    }

    private val network = object : ConnectivityManager.NetworkCallback() {
        private var current: Network? = null
        private var validated = false
        override fun onAvailable(network: Network) {
            current = network
            validated = false
            hint { souk.onNetworkChanged() }
        }
        override fun onCapabilitiesChanged(network: Network, caps: NetworkCapabilities) {
            // once per network, when it becomes usable (e.g. after a captive portal): capability
            // updates are frequent (signal strength), and each hint probes the connection
            val now = caps.hasCapability(NetworkCapabilities.NET_CAPABILITY_VALIDATED)
            if (now && !validated) hint { souk.onNetworkChanged() }
            validated = now
        }
        override fun onLost(network: Network) {
            if (network == current) {
                current = null
                hint { souk.onNetworkLost() }
            }
        }
    }

    init {
        ProcessLifecycleOwner.get().lifecycle.addObserver(lifecycle)
        connectivity.registerDefaultNetworkCallback(network)
    }

    private inline fun hint(block: () -> Unit) {
        try {
            block()
        } catch (e: SoukException.Closed) {
            // the client went first; nothing to tell
        }
    }

    override fun close() {
        ProcessLifecycleOwner.get().lifecycle.removeObserver(lifecycle)
        connectivity.unregisterNetworkCallback(network)
    }
}
