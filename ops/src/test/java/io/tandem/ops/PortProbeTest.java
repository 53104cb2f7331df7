package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * serve's check that its ports are free ({@link ServeCommand#requireFree}) refuses a port another
 * process listens on, and takes no connection itself while it checks.
 */
class PortProbeTest {

  @Test
  void aPortWithAListenerIsTakenOnItsAddressOrTheWildcard() throws Exception {
    try (ServerSocket loopback = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        ServerSocket wildcard = new ServerSocket(0)) {
      for (int port : new int[] {loopback.getLocalPort(), wildcard.getLocalPort()}) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> ServeCommand.requireFree("HTTP", "127.0.0.1", port, "--port"));
        assertTrue(e.getMessage().contains("127.0.0.1:" + port), e.getMessage());
      }
    }
  }

  /** An IPv6 address is written bracketed before its port, as in a URL (tester58d: "::1:18810"). */
  @Test
  void anIpv6AddressIsBracketedBeforeItsPort() throws Exception {
    ServerSocket v6;
    try {
      v6 = new ServerSocket(0, 50, InetAddress.getByName("::1"));
    } catch (java.io.IOException noIpv6) {
      org.junit.jupiter.api.Assumptions.abort("no IPv6 loopback here: " + noIpv6.getMessage());
      return;
    }
    try (v6) {
      int port = v6.getLocalPort();
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> ServeCommand.requireFree("HTTP", "::1", port, "--port"));
      assertTrue(e.getMessage().startsWith("cannot listen on [::1]:" + port + " for HTTP"), e.getMessage());
    }
  }

  /**
   * A client connecting to the port while serve checks it is refused, as before and after the
   * check, not let in and then reset (tester58c): the probe that listened as it bound let in 167
   * of 4,437 connections tried over 42,000 checks.
   */
  @Test
  void theCheckTakesNoConnection() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    AtomicBoolean done = new AtomicBoolean();
    AtomicInteger tried = new AtomicInteger();
    AtomicInteger connected = new AtomicInteger();
    Thread client = new Thread(() -> {
      while (!done.get()) {
        tried.incrementAndGet();
        try (Socket c = new Socket()) {
          c.connect(new InetSocketAddress("127.0.0.1", port), 200);
          connected.incrementAndGet();
        } catch (java.io.IOException refused) {
          // what a port nobody listens on answers
        }
      }
    });
    client.start();
    try {
      for (int i = 0; i < 40_000; i++) ServeCommand.requireFree("HTTP", "127.0.0.1", port, "--port");
    } finally {
      done.set(true);
      client.join();
    }
    assertTrue(tried.get() > 100, "the client tried while the checks ran: " + tried);
    assertEquals(0, connected.get(), connected + " of " + tried + " connections were let in by the check");
  }
}
