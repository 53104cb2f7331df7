package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** What the server logs as it starts, as its operator reads it: where it listens, as {@code host:port}. */
class StartupLinesTest {

  @Test
  void anOpenServerWarnsAndSaysWhereItListensAsHostColonPort() {
    Logger logger = (Logger) LoggerFactory.getLogger(TandemHttpServer.class);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    logger.addAppender(lines);
    try (TestServer server = TestServer.start("")) {
      String at = "127.0.0.1:" + server.server.port();
      List<String> logged = lines.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
      assertTrue(logged.stream().anyMatch(m -> m.contains("NO API KEYS CONFIGURED") && m.contains("it listens on " + at + " only.")),
          "the warning names the address, without InetSocketAddress's leading slash: " + logged);
      assertTrue(logged.stream().anyMatch(m -> m.contains("listening on http://" + at + "/ ")), logged.toString());
    } finally {
      logger.detachAppender(lines);
    }
  }

  @Test
  void anIpv6AddressIsWrittenInBracketsAsAUrlWritesIt() {
    assertEquals("[0:0:0:0:0:0:0:1]:8080", TandemHttpServer.hostPort(new InetSocketAddress("::1", 8080)));
    assertEquals("127.0.0.1:19600", TandemHttpServer.hostPort(new InetSocketAddress("127.0.0.1", 19600)));
  }
}
