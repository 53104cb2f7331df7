package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.cluster.MemberStatus;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Join;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.protocol.Role;
import java.net.http.HttpResponse;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A node with no large worker ({@code --roles orchestrator,small}) answers a speculative request at
 * once, as it answers one of mode {@code large}: with {@code on-large-loss = fail} a 503 that names
 * the missing role and what to do, with {@code degrade} the small model's answer marked {@code
 * degraded}. Neither waits {@code tandem.session.worker-wait} (20 s here) for a large worker. What
 * the 503 advises, and whether it invites a retry, depends on whether a large node could join:
 * outside a cluster none can, so it says {@code x-should-retry: false} (which the OpenAI SDKs obey)
 * and sends no {@code Retry-After}; in a cluster it is retryable.
 */
class NoLargeWorkerTest {
  private static final String WAIT = "tandem.session.worker-wait = 20s\n";

  @RegisterExtension
  static final TestServer failing = TestServer.start(WAIT + "tandem.roles = [orchestrator, small]\n", Set.of(Role.small));

  @RegisterExtension
  static final TestServer degrading = TestServer.start(WAIT + "tandem.session.on-large-loss = degrade\n", Set.of(Role.small));

  private static final String CHAT = "/v1/chat/completions";
  private static final String SPECULATIVE = "{\"messages\":[{\"role\":\"user\",\"content\":\"Compute.\"}],\"max_tokens\":64";
  private static final ObjectMapper JSON = new ObjectMapper();
  /** Well under worker-wait: what "at once" is allowed on a loaded machine. */
  private static final double AT_ONCE_SECONDS = 10;

  /** A 503 no retry can clear: no Retry-After, and x-should-retry: false. */
  static void assertNeverClears(HttpResponse<String> r, String what) {
    assertEquals(503, r.statusCode(), what + ": " + r.body());
    assertFalse(r.headers().firstValue("Retry-After").isPresent(), "no retry can help: " + what);
    assertEquals("false", r.headers().firstValue("x-should-retry").orElse(null), "the SDKs are told not to retry: " + what);
  }

  /** A 503 worth retrying: Retry-After, and no x-should-retry. */
  static void assertRetryable(HttpResponse<String> r, String what) {
    assertEquals(503, r.statusCode(), what + ": " + r.body());
    assertTrue(r.headers().firstValue("Retry-After").isPresent(), "retryable: " + what);
    assertFalse(r.headers().firstValue("x-should-retry").isPresent(), "the SDKs may retry: " + what);
  }

  @Test
  void aSpeculativeRequestIsA503AtOnceThatNoRetryClearsNamingTheMissingRoleAndWhatToDo() throws Exception {
    ch.qos.logback.classic.Logger requests = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger("tandem.http.requests");
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> lines = new ch.qos.logback.core.read.ListAppender<>();
    lines.start();
    requests.addAppender(lines);
    java.util.List<String> said = new java.util.ArrayList<>();
    try {
      for (String body : new String[] {SPECULATIVE + "}", SPECULATIVE + ",\"tandem\":{\"mode\":\"speculative\"}}"}) {
        said.add(JSON.readTree(failing.post(CHAT, body, null).body()).at("/error/message").asText());
      }
      // The request log has what the client was told, as for a request refused before its session (tester55a: a
      // speculative 503's line lacked the words its client read).
      TestServer.eventually("the request log's lines of the two 503s", () -> logged503s(lines).size() >= 2);
      assertEquals(said, logged503s(lines));
    } finally {
      requests.detachAppender(lines);
    }
    for (String body : new String[] {SPECULATIVE + "}", SPECULATIVE + ",\"stream\":true}",
        SPECULATIVE + ",\"tandem\":{\"mode\":\"speculative\"}}"}) {
      long start = System.nanoTime();
      HttpResponse<String> r = failing.post(CHAT, body, null);
      double seconds = (System.nanoTime() - start) / 1e9;
      assertNeverClears(r, body);
      JsonNode error = JSON.readTree(r.body()).path("error");
      assertEquals("service_unavailable", error.path("code").asText(), r.body());
      String message = error.path("message").asText();
      assertTrue(message.contains("no large worker is available"), message);
      assertTrue(message.contains("send \"tandem\": {\"mode\": \"small\"} to use the small model alone"), message);
      assertTrue(message.contains("this node runs no large worker and is not in a cluster, so none can join it: start it with the large role"),
          "what can be done on a node outside a cluster: " + message);
      assertFalse(message.contains("retry once one has joined"), "nothing can join a node outside a cluster: " + message);
      assertTrue(seconds < AT_ONCE_SECONDS, "refused at once, not after worker-wait: " + seconds + " s");
    }
    HttpResponse<String> small = failing.post(CHAT, SPECULATIVE + ",\"tandem\":{\"mode\":\"small\"}}", null);
    assertEquals(200, small.statusCode(), "the small model alone still serves: " + small.body());
  }

  /** The {@code error} of each request log line of a 503, in order. */
  private static java.util.List<String> logged503s(ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> lines)
      throws Exception {
    java.util.List<String> out = new java.util.ArrayList<>();
    synchronized (lines) { // the appender writes under its own lock
      for (ch.qos.logback.classic.spi.ILoggingEvent e : lines.list) {
        JsonNode o = JSON.readTree(e.getFormattedMessage());
        if (o.path("status").asInt() == 503) out.add(o.path("error").asText());
      }
    }
    return out;
  }

  @Test
  void aRequestOfModeLargeGetsTheSameNeverClearing503AndAdviceOnEitherEndpoint() throws Exception {
    String chat = SPECULATIVE + ",\"tandem\":{\"mode\":\"large\"}";
    String legacy = "{\"prompt\":\"Compute.\",\"max_tokens\":8,\"tandem\":{\"mode\":\"large\"}";
    String[][] requests = {{CHAT, chat + "}"}, {CHAT, chat + ",\"stream\":true}"}, {"/v1/completions", legacy + "}"},
        {"/v1/completions", legacy + ",\"stream\":true}"}};
    for (String[] req : requests) {
      HttpResponse<String> r = failing.post(req[0], req[1], null);
      assertNeverClears(r, req[1]);
      JsonNode error = JSON.readTree(r.body()).path("error");
      assertEquals("service_unavailable", error.path("code").asText(), r.body());
      assertEquals("the server cannot serve this request: no large worker is available (this node runs no large worker"
          + " and is not in a cluster, so none can join it: start it with the large role too, as --roles"
          + " orchestrator,small,large does, or send \"tandem\": {\"mode\": \"small\"} to use the small model alone)",
          error.path("message").asText(), "what is missing and what to do, as for a speculative request");
    }
  }

  /** The Java SDK obeys x-should-retry as the others do: one attempt, though it may make three. */
  @Test
  void theOpenAiSdkSurfacesTheNeverClearing503AtOnceWithoutRetrying() throws Exception {
    com.openai.client.OpenAIClient client = com.openai.client.okhttp.OpenAIOkHttpClient.builder()
        .baseUrl(failing.base + "/v1").apiKey("unused").maxRetries(2).build();
    String series = "tandem:tenant_http_responses_total{tenant=\"open\",status=\"503\"} ";
    double before = count(series);
    var e = org.junit.jupiter.api.Assertions.assertThrows(com.openai.errors.InternalServerException.class,
        () -> client.chat().completions().create(com.openai.models.chat.completions.ChatCompletionCreateParams.builder()
            .model("tandem").addUserMessage("Compute.").maxCompletionTokens(8).build()));
    assertEquals(503, e.statusCode());
    assertEquals(before + 1, count(series), "one attempt reached the server");
  }

  private static double count(String series) throws Exception {
    return failing.scrape().lines().filter(l -> l.startsWith(series))
        .mapToDouble(l -> Double.parseDouble(l.substring(series.length()).trim())).findFirst().orElse(0);
  }

  /** In a cluster a large node may join, so the 503 says to retry once one has. */
  @Test
  void readinessSaysNoLargeWorkerWillComeToANodeOutsideAClusterWithoutTheLargeRole() throws Exception {
    JsonNode body = readiness(failing, 503);
    assertEquals(1, body.at("/workers/small").asInt(), body.toString());
    String status = body.path("status").asText();
    assertTrue(status.startsWith("no large worker will come: this node does not run the large role and is not in a"
        + " cluster"), status);
    assertTrue(status.contains("set tandem.http.default-mode to the role it runs"), status);
  }

  @Test
  void inAClusterWithoutALargeMemberTheRetryable503SaysToRetryOnceOneHasJoined() throws Exception {
    try (TestServer clustered = TestServer.start(WAIT
        + "akka.actor.provider = cluster\n"
        + "akka.remote.artery.transport = tcp\n"
        + "akka.remote.artery.canonical.hostname = 127.0.0.1\n"
        + "akka.remote.artery.canonical.port = 0\n"
        + "akka.cluster.roles = [orchestrator, small]\n", Set.of(Role.small))) {
      Cluster cluster = Cluster.get(clustered.system);
      cluster.manager().tell(Join.create(cluster.selfMember().address()));
      TestServer.eventually("this node is up", () -> cluster.selfMember().status().equals(MemberStatus.up()));
      HttpResponse<String> r = clustered.post(CHAT, SPECULATIVE + "}", null);
      assertEquals(503, r.statusCode(), r.body());
      String message = JSON.readTree(r.body()).at("/error/message").asText();
      assertTrue(message.contains("no large worker is available (none is offered to sessions: retry once one has joined, or"
          + " send \"tandem\": {\"mode\": \"small\"} to use the small model alone)"), message);
      assertRetryable(r, "speculative");
      // Only a large node's start clears it, which this server waits worker-wait for: the client is told to wait as long.
      assertEquals("20", r.headers().firstValue("Retry-After").orElse(null), "worker-wait, not tandem.http.retry-after's 1 s");
      HttpResponse<String> large = clustered.post(CHAT, SPECULATIVE + ",\"tandem\":{\"mode\":\"large\"}}", null);
      assertRetryable(large, "mode large");
      assertEquals("20", large.headers().firstValue("Retry-After").orElse(null));
      assertTrue(JSON.readTree(large.body()).at("/error/message").asText().contains("no large worker is available (none is"
          + " offered to sessions: retry once one has joined, or send \"tandem\": {\"mode\": \"small\"} to use the small"
          + " model alone)"), large.body());
    }
  }

  /**
   * A node outside a cluster that runs the large role, whose large worker is not offered yet (still
   * registering): one may come, so a speculative request, a request of mode large and readiness all
   * say so alike, as a 503 worth retrying and "waiting for workers".
   */
  @Test
  void aNodeThatRunsTheLargeRoleWithoutItsWorkerYetSaysOneMayComeWhateverAsksIt() throws Exception {
    try (TestServer starting = TestServer.start(WAIT + "tandem.roles = [orchestrator, small, large]\n", Set.of(Role.small))) {
      String retry = "no large worker is available (none is offered to sessions: retry once one has joined, or send"
          + " \"tandem\": {\"mode\": \"small\"} to use the small model alone)";
      for (String body : new String[] {SPECULATIVE + "}", SPECULATIVE + ",\"tandem\":{\"mode\":\"large\"}}"}) {
        HttpResponse<String> r = starting.post(CHAT, body, null);
        assertRetryable(r, body);
        String message = JSON.readTree(r.body()).at("/error/message").asText();
        assertTrue(message.contains(retry), body + ": " + message);
      }
      HttpResponse<String> ready = starting.get("/health/ready");
      assertEquals(503, ready.statusCode(), ready.body());
      assertEquals("waiting for workers: no large worker is offered (this node's large worker is still starting)",
          JSON.readTree(ready.body()).path("status").asText(), ready.body());
    }
  }

  @Test
  void withDegradeASpeculativeRequestGoesOnWithTheSmallModelAloneAtOnceAndSaysSo() throws Exception {
    double degradedBefore = degrading.metric("tandem:requests_degraded_total");
    long start = System.nanoTime();
    HttpResponse<String> r = degrading.post(CHAT, SPECULATIVE + "}", null);
    double seconds = (System.nanoTime() - start) / 1e9;
    assertEquals(200, r.statusCode(), r.body());
    JsonNode tandem = JSON.readTree(r.body()).path("tandem");
    assertEquals("speculative", tandem.path("mode").asText(), r.body());
    assertTrue(tandem.path("degraded").asBoolean(), "degraded: " + r.body());
    assertEquals(0, tandem.at("/counters/tokens/large").asInt(), r.body());
    assertTrue(tandem.at("/counters/tokens/small").asInt() > 0, r.body());
    assertTrue(seconds < AT_ONCE_SECONDS, "small-only at once, not after worker-wait: " + seconds + " s");
    TestServer.eventually("the answer counted as degraded", () -> degrading.metric("tandem:requests_degraded_total") == degradedBefore + 1);
  }

  /**
   * A server that degrades answers speculative requests without a large worker, so it is ready: a
   * load balancer that took it out of rotation would leave those clients with nothing. Its status says
   * how it answers.
   */
  @Test
  void withDegradeReadinessIsReadyWithTheSmallWorkerAloneAndSaysDegraded() throws Exception {
    JsonNode body = readiness(degrading, 200);
    assertEquals(1, body.at("/workers/small").asInt(), body.toString());
    assertEquals(0, body.at("/workers/large").asInt(), body.toString());
    assertEquals(ApiRoutes.DEGRADED, body.path("status").asText(), body.toString());
    // A node without the large role outside a cluster: none will come, which the status says.
    try (TestServer alone = TestServer.start(WAIT + "tandem.roles = [orchestrator, small]\ntandem.session.on-large-loss = degrade\n",
        Set.of(Role.small))) {
      JsonNode forGood = readiness(alone, 200);
      assertEquals(ApiRoutes.DEGRADED_FOR_GOOD, forGood.path("status").asText(), forGood.toString());
    }
  }

  /** {@code server}'s GET /health/ready, whose status code must be {@code code}: its body. */
  private static JsonNode readiness(TestServer server, int code) throws Exception {
    HttpResponse<String> r = server.get("/health/ready");
    assertEquals(code, r.statusCode(), r.body());
    return JSON.readTree(r.body());
  }
}
