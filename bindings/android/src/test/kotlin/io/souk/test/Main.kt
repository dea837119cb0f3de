package io.souk.test

import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlin.system.exitProcess

/*
 * Runs one Kotlin test by name, in this process, and prints the closing line ctest's log
 * shows ("1 passed, 0 failed"). ctest runs each test in its own JVM (tests/bindings):
 *
 *   java -Djava.library.path=OUT/jni -cp "(every jar in OUT/lib)" io.souk.test.MainKt session
 */

val TESTS: Map<String, suspend TestContext.() -> Unit> = linkedMapOf(
    "api" to { apiTest() },
    "session" to { sessionTest() },
    "offline_send" to { offlineSendTest() },
    "logout_wipe" to { logoutWipeTest() },
    "threads" to { threadsTest() },
    "rich" to { richTest() },
)

fun main(args: Array<String>) {
    val name = args.singleOrNull()
    val test = TESTS[name]
    if (test == null) {
        System.err.println("usage: io.souk.test.MainKt TEST   (tests: ${TESTS.keys.joinToString(", ")})")
        exitProcess(2)
    }
    var ok = false
    try {
        TestContext().use { ctx ->
            // an upper bound against hangs; ctest's own timeout is above it
            runBlocking { withTimeout(240_000) { test(ctx) } }
            ctx.checkLogs()
        }
        ok = true
    } catch (t: Throwable) {
        System.err.println("FAIL kotlin test $name:")
        t.printStackTrace()
    }
    println("kotlin: ${if (ok) "1 passed, 0 failed" else "0 passed, 1 failed"}")
    System.out.flush()
    exitProcess(if (ok) 0 else 1)
}
