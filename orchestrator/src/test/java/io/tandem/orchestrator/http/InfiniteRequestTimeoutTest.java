package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.http.javadsl.settings.ServerSettings;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import io.tandem.protocol.config.ConfigSection;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code tandem.http.request-timeout = infinite} turns akka-http's request timeout off, as
 * akka-http's own {@code request-timeout = infinite} does, and {@code idle-timeout = infinite} its
 * idle timeout: a request within its deadlines gets its result, and one past a session deadline
 * still ends with the session's own OpenAI error object.
 */
class InfiniteRequestTimeoutTest {
  private static final String CONFIG = "tandem.http.request-timeout = infinite\ntandem.http.idle-timeout = infinite\n"
      + "tandem.session.step-timeout = 1s\n";
  private static final ObjectMapper JSON = new ObjectMapper();

  @RegisterExtension
  static final TestServer server = TestServer.start(CONFIG);

  private static final String BODY =
      "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":5,\"tandem\":{\"mode\":\"small\"}}";

  @Test
  void infiniteIsReadAsNoTimeoutAndGivenToAkkaHttpAsItsOwnWord() {
    HttpSettings settings = HttpSettings.fromConfig(ConfigFactory.parseString(CONFIG).withFallback(ConfigFactory.load()));
    assertEquals(ConfigSection.INFINITE, settings.requestTimeout());
    ServerSettings akka = ServerSettings.create(ConfigFactory.parseString("akka.http.server.request-timeout = "
        + ConfigSection.asAkkaSetting(settings.requestTimeout())).withFallback(ConfigFactory.load()));
    assertFalse(akka.getTimeouts().requestTimeout().isFinite(), "akka-http's request timeout is off");
    assertEquals(ConfigSection.INFINITE, settings.idleTimeout());
    ServerSettings idle = ServerSettings.create(ConfigFactory.parseString("akka.http.server.idle-timeout = "
        + ConfigSection.asAkkaSetting(settings.idleTimeout())).withFallback(ConfigFactory.load()));
    assertFalse(idle.getTimeouts().idleTimeout().isFinite(), "akka-http's idle timeout is off");
  }

  @Test
  void aRequestWithinItsDeadlinesGetsItsResult() throws Exception {
    HttpResponse<String> r = server.post("/v1/chat/completions", BODY, null);
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(JSON.readTree(r.body()).at("/choices/0/message/content").isTextual(), r.body());
  }

  @Test
  void aStepPastItsDeadlineStillEndsAsTheSessionsOwn504() throws Exception {
    server.gate.close();
    HttpResponse<String> r = server.post("/v1/chat/completions", BODY, null);
    assertEquals(504, r.statusCode(), r.body());
    JsonNode e = JSON.readTree(r.body()).get("error");
    assertEquals("timeout", e.get("code").asText());
    assertTrue(e.get("message").asText().contains("did not answer within 1 s"), r.body());
  }
}
