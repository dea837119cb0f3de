package io.souk.test

import io.souk.LogLevel
import io.souk.Platform
import io.souk.Souk
import io.souk.SoukConfig
import io.souk.SoukEvent
import io.souk.SoukLogger
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.filterNotNull
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeoutOrNull
import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.time.Duration
import java.util.concurrent.TimeUnit
import kotlin.test.fail

/*
 * What the Kotlin tests share: real soukd processes (binaries from $SOUKD / $SOUKCTL, set by
 * ctest) on free 127.0.0.1 ports and temporary data dirs, tokens from soukctl, the agent REST
 * API over java.net.http, clients on temporary databases, and waiting for events with
 * generous upper bounds against hangs (never timing thresholds).
 * SOUK_TEST_VERBOSE=1 prints the SDK's logs; SOUK_KEEP_TEST_DIRS=1 keeps the temporary dirs.
 */

fun env(name: String): String =
    System.getenv(name)?.takeIf { it.isNotEmpty() } ?: fail("\$$name is not set (run the test through ctest)")

fun log(msg: String) = System.err.println("[kotlin-test] $msg")

/** One test's temporary directory, servers and clients; everything is torn down by [close]. */
class TestContext : AutoCloseable {
    val dir: File = Files.createTempDirectory("souk-kotlin-").toFile()
    val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
    private val servers = mutableListOf<SoukServer>()
    private val clients = mutableListOf<Souk>()

    /** Strings that must never appear in any SDK log line (tokens, message text). */
    val forbidden: MutableSet<String> = java.util.Collections.synchronizedSet(mutableSetOf())
    val logLines: MutableList<String> = java.util.Collections.synchronizedList(mutableListOf())

    fun server(): SoukServer = SoukServer(File(dir, "soukd-${servers.size}")).also { servers += it }

    fun key(variant: Int = 0) = ByteArray(32) { i -> (i * 7 + 3 + variant * 31).toByte() }

    fun dbPath(name: String) = File(dir, name).path

    val logger = SoukLogger { level, message ->
        logLines += message
        if (System.getenv("SOUK_TEST_VERBOSE") != null) log("sdk $level: $message")
    }

    fun config(server: SoukServer?, db: String, keyVariant: Int = 0, deviceId: String? = null) = SoukConfig(
        serverUrl = server?.url ?: "ws://127.0.0.1:9/v1/ws",
        appId = server?.appId ?: "app_offline",
        databasePath = dbPath(db),
        databaseKey = key(keyVariant),
        deviceId = deviceId,
        platform = Platform.DESKTOP,
        reconnectMinMillis = 50,
        reconnectMaxMillis = 1000,
        logLevel = LogLevel.DEBUG,
        logger = logger,
    )

    /** A client closed with the context (unless the test closes it first). */
    fun client(config: SoukConfig): Souk = Souk(config).also { clients += it }

    /** Checks that no log line held a token or a message text. */
    fun checkLogs() {
        val lines = synchronized(logLines) { logLines.toList() }
        val bad = synchronized(forbidden) { forbidden.toList() }
        for (l in lines) for (f in bad) if (l.contains(f)) fail("a forbidden string (token or text) was logged: $l")
    }

    override fun close() {
        clients.forEach { runCatching { it.close() } }
        scope.cancel()
        servers.forEach { it.kill() }
        if (System.getenv("SOUK_KEEP_TEST_DIRS") == null) dir.deleteRecursively() else log("kept $dir")
    }
}

/** One soukd on its own data dir, restartable on the same port. */
class SoukServer(val dir: File) {
    private val soukd = env("SOUKD")
    private val soukctl = env("SOUKCTL")
    val appId: String
    val apiKey: String
    var port = 0
        private set
    private var process: Process? = null
    private val http: HttpClient = HttpClient.newBuilder()
        // HTTP/1.1 like the REST docs: java.net.http would otherwise try an h2c upgrade, and
        // soukd (libwebsockets) then sends HTTP/2 frames over the peer's MAX_FRAME_SIZE on
        // large responses (seen with a 55 KB message list)
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(10)).build()

    init {
        dir.mkdirs()
        val out = run(soukctl, "--data-dir", dir.path, "app", "create", "Test Shop", "--json")
        appId = field(out, "app_id")
        apiKey = field(out, "api_key")
    }

    val url: String get() = "ws://127.0.0.1:$port/v1/ws"

    private fun field(json: String, key: String): String =
        Regex("\"$key\"\\s*:\\s*\"([^\"]*)\"").find(json)?.groupValues?.get(1)
            ?: fail("no $key in soukctl output: $json")

    private fun run(vararg argv: String): String {
        val p = ProcessBuilder(*argv).redirectError(ProcessBuilder.Redirect.INHERIT).start()
        val out = p.inputStream.bufferedReader().readText()
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) fail("${argv.joinToString(" ")} failed")
        return out
    }

    /** A user token from soukctl (HS256 with the app's secret). */
    fun token(user: String, ttlSeconds: Int = 3600): String =
        run(soukctl, "--data-dir", dir.path, "token", appId, user, "--ttl", ttlSeconds.toString()).trim()

    /** Starts soukd (on a free port the first time, then on the same one) and waits until /healthz answers. */
    fun start() {
        val portFile = File(dir, "port")
        portFile.delete()
        process = ProcessBuilder(
            soukd, "--data-dir", dir.path, "--listen", "127.0.0.1:$port", "--port-file", portFile.path,
            "--log-level", "debug",
        ).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(File(dir, "soukd.log"))).start()
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60) // against hangs only
        while (System.nanoTime() < deadline) {
            val p = process!!
            if (!p.isAlive) fail("soukd exited at start (${p.exitValue()}); log ${dir}/soukd.log")
            val txt = portFile.takeIf { it.exists() }?.readText()?.trim().orEmpty()
            if (txt.isNotEmpty()) {
                port = txt.toInt()
                if (healthy()) return
            }
            Thread.sleep(20)
        }
        fail("soukd did not start; log ${dir}/soukd.log")
    }

    private fun healthy(): Boolean = try {
        val r = http.send(
            HttpRequest.newBuilder(URI("http://127.0.0.1:$port/healthz")).timeout(Duration.ofSeconds(2)).build(),
            HttpResponse.BodyHandlers.ofString())
        r.statusCode() == 200
    } catch (e: java.io.IOException) {
        false
    }

    /** SIGTERM; soukd must drain and exit 0. */
    fun stop() {
        val p = process ?: return
        p.destroy()
        if (!p.waitFor(60, TimeUnit.SECONDS)) fail("soukd did not exit on SIGTERM")
        if (p.exitValue() != 0) fail("soukd exited with ${p.exitValue()} on SIGTERM; log ${dir}/soukd.log")
        process = null
        val log = File(dir, "soukd.log").readText()
        if ("Sanitizer" in log || "runtime error:" in log) fail("sanitizer report in ${dir}/soukd.log")
    }

    fun kill() {
        process?.let { it.destroyForcibly(); it.waitFor(30, TimeUnit.SECONDS) }
        process = null
    }

    /** An agent REST API call with the app's API key: (status, body). */
    fun rest(method: String, path: String, json: String? = null): Pair<Int, String> {
        val body = if (json == null) HttpRequest.BodyPublishers.noBody() else HttpRequest.BodyPublishers.ofString(json)
        val req = HttpRequest.newBuilder(URI("http://127.0.0.1:$port$path"))
            .timeout(Duration.ofSeconds(30))
            .header("Authorization", "Bearer $apiKey")
            .header("Content-Type", "application/json")
            .method(method, body)
            .build()
        val r = http.send(req, HttpResponse.BodyHandlers.ofString())
        return r.statusCode() to r.body()
    }

    /** An agent reply in a conversation (its server id). */
    fun agentReply(conversationServerId: String, text: String) {
        val (status, body) = rest(
            "POST", "/v1/conversations/$conversationServerId/messages",
            """{"sender":{"id":"agent-7","kind":"agent","name":"Sam"},"content":{"text":{"body":${jsonString(text)}}}}""")
        if (status != 201) fail("agent reply: HTTP $status $body")
    }

    fun agentTyping(conversationServerId: String, on: Boolean) {
        val (status, body) = rest(
            "POST", "/v1/conversations/$conversationServerId/typing",
            """{"sender":{"id":"agent-7","kind":"agent","name":"Sam"},"on":$on}""")
        if (status != 204) fail("agent typing: HTTP $status $body")
    }

    /** The bodies of the text messages the server holds in a conversation, in order. */
    fun serverTexts(conversationServerId: String): List<String> {
        val texts = mutableListOf<String>()
        var after = 0L
        while (true) {
            val (status, body) = rest("GET", "/v1/conversations/$conversationServerId/messages?after=$after&limit=200")
            if (status != 200) fail("list messages: HTTP $status $body")
            Regex("\"body\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"").findAll(body).forEach { texts += unescape(it.groupValues[1]) }
            if (!body.contains("\"has_more\":true")) return texts
            after = Regex("\"next_after\"\\s*:\\s*(\\d+)").find(body)?.groupValues?.get(1)?.toLong()
                ?: fail("no next_after in $body")
        }
    }
}

fun jsonString(s: String): String = buildString {
    append('"')
    for (c in s) when {
        c == '"' -> append("\\\"")
        c == '\\' -> append("\\\\")
        c < ' ' -> append(String.format("\\u%04x", c.code))
        else -> append(c)
    }
    append('"')
}

private fun unescape(s: String): String {
    val sb = StringBuilder()
    var i = 0
    while (i < s.length) {
        val c = s[i]
        if (c != '\\' || i + 1 >= s.length) { sb.append(c); i++; continue }
        when (val n = s[i + 1]) {
            'u' -> { sb.append(s.substring(i + 2, i + 6).toInt(16).toChar()); i += 6 }
            'n' -> { sb.append('\n'); i += 2 }
            't' -> { sb.append('\t'); i += 2 }
            'r' -> { sb.append('\r'); i += 2 }
            else -> { sb.append(n); i += 2 }
        }
    }
    return sb.toString()
}

/**
 * Collects a client's events from the moment it is made, and waits for conditions on them.
 * Each wait re-checks the whole history, so an event that arrived before the wait counts.
 */
class EventLog(scope: CoroutineScope, souk: Souk) {
    // the flow only: the collector must not keep the client reachable (the cleaner test)
    private val flow = souk.events
    private val all = mutableListOf<SoukEvent>()
    private val version = MutableStateFlow(0L)
    @Volatile
    var completed = false
        private set

    val job: Job = scope.launch {
        flow.collect { e ->
            synchronized(all) { all += e }
            version.value += 1
        }
        completed = true
        version.value += 1
    }

    fun events(): List<SoukEvent> = synchronized(all) { all.toList() }

    /** Waits until [pick] finds something in the events so far; fails after [timeoutMs] (a bound against hangs). */
    suspend fun <T : Any> await(what: String, timeoutMs: Long = 60_000, pick: (List<SoukEvent>) -> T?): T =
        withTimeoutOrNull(timeoutMs) { version.map { pick(events()) }.filterNotNull().first() }
            ?: fail("timed out after $timeoutMs ms waiting for: $what\nevents: ${events().takeLast(20)}")

    inline fun <reified E : SoukEvent> all(): List<E> = events().filterIsInstance<E>()
}
