package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** What the server logs as it starts, as its operator reads it: where it listens, as {@code host:port}, and what it warns of. */
class StartupLinesTest {

  @Test
  void anOpenServerWarnsAndSaysWhereItListensAsHostColonPort() {
    int[] port = new int[1];
    List<String> logged = startupLines("", server -> port[0] = server.server.port()).stream()
        .map(ILoggingEvent::getFormattedMessage).toList();
    String at = "127.0.0.1:" + port[0];
    assertTrue(logged.stream().anyMatch(m -> m.contains("NO API KEYS CONFIGURED") && m.contains("it listens on " + at + " only.")),
        "the warning names the address, without InetSocketAddress's leading slash: " + logged);
    assertTrue(logged.stream().anyMatch(m -> m.contains("listening on http://" + at + "/ ")), logged.toString());
    assertTrue(logged.stream().noneMatch(m -> m.contains("allow-credentials")), "no credentials allowed: " + logged);
    // A browser on this machine reaches loopback for the pages of any site it opens (tester62c).
    assertTrue(logged.stream().anyMatch(m -> m.contains("NO API KEYS CONFIGURED") && m.contains("open to anyone on this machine,"
        + " and to the pages of any web site its browsers open (CORS allows every origin: --allowed-origins limits it)")),
        logged.toString());
    List<String> restricted = startupLines("tandem.http.allowed-origins = [\"http://localhost:3000\"]\n", server -> {}).stream()
        .map(ILoggingEvent::getFormattedMessage).toList();
    assertTrue(restricted.stream().anyMatch(m -> m.contains("NO API KEYS CONFIGURED - the server is open to anyone on this"
        + " machine; it listens")), "with the origins restricted, browsers are not named: " + restricted);
  }

  /** Credentials from every origin let any web site's pages act as their visitors: the operator is told once. */
  @Test
  void everyOriginWithCredentialsIsWarnedOfOnce() {
    List<ILoggingEvent> warned = startupLines("tandem.http.allow-credentials = true\n", server -> {}).stream()
        .filter(e -> e.getFormattedMessage().contains("allow-credentials")).toList();
    assertEquals(1, warned.size(), warned.toString());
    assertEquals(Level.WARN, warned.get(0).getLevel());
    assertTrue(warned.get(0).getFormattedMessage().contains("tandem.http.allowed-origins has \"*\""), warned.toString());
  }

  @Test
  void oneKeyForOneTenantIsCountedInTheSingular() {
    List<String> logged = startupLines("tandem.http.api-keys = [{key = sk-alice, tenant = alice}]\n", server -> {}).stream()
        .map(ILoggingEvent::getFormattedMessage).toList();
    assertTrue(logged.contains("tandem serve: 1 API key for 1 tenant"), logged.toString());
  }

  /** A short key is taken (vLLM takes any) but its operator is told it can be guessed; the key itself is not logged. */
  @Test
  void aKeyShortEnoughToGuessIsWarnedOfByItsTenant() {
    List<ILoggingEvent> warned = startupLines("tandem.http.api-keys = [{key = sk-alice, tenant = alice},"
        + " {key = sk-0123456789abcdef, tenant = bob}]\n", server -> {}).stream()
        .filter(e -> e.getLevel() == Level.WARN).toList();
    assertEquals(1, warned.size(), warned.toString());
    assertEquals("tandem serve: an API key of tenant 'alice' has 8 characters: a key that short can be guessed; give each tenant"
        + " 16 or more random characters (openssl rand -hex 16 writes 32)", warned.get(0).getFormattedMessage());
  }

  /** What the server logs as it starts with {@code httpConfig}; {@code started} sees the server before it stops. */
  private static List<ILoggingEvent> startupLines(String httpConfig, Consumer<TestServer> started) {
    Logger logger = (Logger) LoggerFactory.getLogger(TandemHttpServer.class);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    logger.addAppender(lines);
    try (TestServer server = TestServer.start(httpConfig)) {
      started.accept(server);
      return List.copyOf(lines.list);
    } finally {
      logger.detachAppender(lines);
    }
  }

  @Test
  void anIpv6AddressIsWrittenInBracketsAsAUrlWritesIt() {
    assertEquals("[::1]:8080", TandemHttpServer.hostPort(new InetSocketAddress("::1", 8080)));
    assertEquals("[::]:8080", TandemHttpServer.hostPort(new InetSocketAddress("::", 8080)));
    assertEquals("127.0.0.1:19600", TandemHttpServer.hostPort(new InetSocketAddress("127.0.0.1", 19600)));
  }

  /** An IPv6 host given in brackets, as a URL and the listening line write it, is the address (tester59f). */
  @Test
  void anIpv6HostInBracketsIsTheAddress() {
    assertEquals("::1", HttpSettings.unbracketed("[::1]"));
    assertEquals("::1%lo", HttpSettings.unbracketed("[::1%lo]"));
    assertEquals("127.0.0.1", HttpSettings.unbracketed("127.0.0.1"));
    assertEquals("[host]", HttpSettings.unbracketed("[host]"), "no IPv6 address: left for the host check to refuse");
  }

  @Test
  void anIpv6AddressIsWrittenInRfc5952Form() {
    assertEquals("::1", TandemHttpServer.rfc5952("0:0:0:0:0:0:0:1"));
    assertEquals("::", TandemHttpServer.rfc5952("0:0:0:0:0:0:0:0"));
    assertEquals("fe80::1%lo", TandemHttpServer.rfc5952("fe80:0:0:0:0:0:0:1%lo"));
    // The longest run of zeros is written ::, the first of two equal ones; a single zero group stays 0.
    assertEquals("2001:db8::1:0:0:1", TandemHttpServer.rfc5952("2001:db8:0:0:1:0:0:1"));
    assertEquals("2001:0:0:1::1", TandemHttpServer.rfc5952("2001:0:0:1:0:0:0:1"));
    assertEquals("2001:db8:0:1:1:1:1:1", TandemHttpServer.rfc5952("2001:db8:0:1:1:1:1:1"));
    assertEquals("2001:db8::", TandemHttpServer.rfc5952("2001:DB8:0:0:0:0:0:0"));
  }
}
