package io.souk.test

import io.souk.ConnectionState
import io.souk.MessageStatus
import io.souk.SoukErrorCode
import io.souk.SoukEvent
import io.souk.SoukException
import java.io.File
import java.nio.file.Files
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotEquals
import kotlin.test.assertTrue

/*
 * Logout. Keeping the data, the store still belongs to alice and bob's token is refused
 * (UserMismatch, as a typed error in the event). With wipe, the database and its -wal/-shm
 * files are deleted (a hard link taken before shows the original file lost its name, so the
 * check cannot be fooled by inode reuse), the client goes on with an empty store (same
 * device id), and bob gets in.
 */
private fun inode(f: File): Any? = if (f.exists()) Files.getAttribute(f.toPath(), "unix:ino") else null
private fun links(f: File): Int = Files.getAttribute(f.toPath(), "unix:nlink") as Int

suspend fun TestContext.logoutWipeTest() {
    val server = server()
    server.start()
    val alice = server.token("alice")
    val bob = server.token("bob")
    forbidden += alice
    forbidden += bob
    val c = client(config(server, "wipe.db", deviceId = "phone-1"))
    val log = EventLog(scope, c)
    val conv = c.openSupportConversation()
    c.login(alice)
    c.start()
    val secret = "my address is 1 Secret Street"
    forbidden += "Secret Street"
    val m = c.send(conv, secret)
    log.await("sent") { ev ->
        ev.filterIsInstance<SoukEvent.MessageUpdated>().firstOrNull { it.message.id == m.id && it.message.status == MessageStatus.SENT }
    }

    // keep data: the store stays alice's, and bob is refused on it
    c.logout(wipe = false)
    assertEquals(1, c.conversations().size)
    var mark = log.events().size
    c.login(bob)
    val refused = log.await("bob refused on alice's store") { ev ->
        ev.drop(mark).filterIsInstance<SoukEvent.ConnectionStateChanged>()
            .firstOrNull { it.errorCode == SoukErrorCode.USER_MISMATCH }
    }
    assertTrue(refused.error is SoukException.UserMismatch, "${refused.error}")
    assertEquals(listOf(secret), c.messages(conv).map { it.text }) // still alice's, never bob's

    // wipe: the files go
    val db = File(dbPath("wipe.db"))
    val files = listOf(db, File(db.path + "-wal"), File(db.path + "-shm")).filter { it.exists() }
    assertTrue(db in files)
    val holds = files.map { f -> File(f.path + ".hold").also { Files.createLink(it.toPath(), f.toPath()) } }
    holds.forEach { assertEquals(2, links(it)) }
    c.logout(wipe = true)
    for ((f, hold) in files.zip(holds)) {
        assertEquals(1, links(hold), "${f.name} was deleted")
        assertNotEquals(inode(hold), inode(f), "${f.name} is not the old file")
        hold.delete()
    }
    assertEquals(emptyList(), c.conversations())
    assertFailsWith<SoukException.NotFound> { c.message(m.id) }
    assertEquals(0, c.outboxCount())
    assertEquals("phone-1", c.deviceId)

    // and bob gets in, with nothing of alice's
    mark = log.events().size
    c.login(bob)
    log.await("bob connected and synced") { ev ->
        val after = ev.drop(mark)
        if (after.any { it is SoukEvent.ConnectionStateChanged && it.state == ConnectionState.CONNECTED } &&
            after.any { it is SoukEvent.SyncFinished }) true else null
    }
    assertEquals(emptyList(), c.conversations())
    c.close()
    server.stop()
}
