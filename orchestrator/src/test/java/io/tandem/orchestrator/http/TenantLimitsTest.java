package io.tandem.orchestrator.http;

import static io.tandem.orchestrator.http.TestServer.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Tenants' limits (401, 429 + Retry-After, typed by the limit as OpenAI types them), the server's
 * capacity (503), health, metrics and disconnects.
 */
class TenantLimitsTest {
  static TestServer server;
  static final String BODY = "{\"model\":\"tandem\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":%d}";

  @BeforeAll
  static void start() {
    server = TestServer.start("tandem.http.max-in-flight = 2\n"
        + "tandem.http.api-keys = [\n"
        + "  {key = sk-alice, tenant = alice, max-concurrent = 1},\n"
        + "  {key = sk-bob, tenant = bob},\n"
        + "  {key = sk-carol, tenant = carol},\n"
        + "  {key = sk-dave, tenant = dave, tokens-per-minute = 30},\n"
        + "  {key = sk-erin, tenant = erin}\n"
        + "]\n");
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @AfterEach
  void drain() throws Exception {
    server.drain();
  }

  private CompletableFuture<HttpResponse<String>> postAsync(String key, int maxTokens) {
    return server.http.sendAsync(HttpRequest.newBuilder(URI.create(server.base + "/v1/chat/completions"))
        .POST(HttpRequest.BodyPublishers.ofString(String.format(BODY, maxTokens)))
        .header("Content-Type", "application/json").header("Authorization", "Bearer " + key).timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aTenantOverItsConcurrencyGets429WithRetryAfterWhileOthersAreServed() throws Exception {
    server.gate.close();
    CompletableFuture<HttpResponse<String>> first = postAsync("sk-alice", 5);
    eventually("alice's first request is running", () -> server.inFlight() == 1);
    HttpResponse<String> second = server.post("/v1/chat/completions", String.format(BODY, 5), "sk-alice");
    assertEquals(429, second.statusCode(), second.body());
    assertTrue(second.headers().firstValue("Retry-After").isPresent());
    assertTrue(second.body().contains("tenant 'alice' already has 1 request running, its limit is 1"), second.body());
    assertRateLimit("requests", second);
    CompletableFuture<HttpResponse<String>> bob = postAsync("sk-bob", 5);
    eventually("bob's request is running", () -> server.inFlight() == 2);
    HttpResponse<String> carol = server.post("/v1/chat/completions", String.format(BODY, 5), "sk-carol");
    assertEquals(503, carol.statusCode(), "the server is at capacity: " + carol.body());
    assertTrue(carol.headers().firstValue("Retry-After").isPresent());
    server.gate.open();
    assertEquals(200, first.get().statusCode());
    assertEquals(200, bob.get().statusCode());
    assertEquals(200, server.post("/v1/chat/completions", String.format(BODY, 5), "sk-alice").statusCode());
  }

  /**
   * {@code /tokenize} and {@code /detokenize} are requests of their tenant too: a long prompt's count
   * takes a worker seconds, which {@code max-concurrent} bounds (they were let through unlimited).
   */
  @Test
  void tokenizingIsARequestOfItsTenant() throws Exception {
    String tokenize = "{\"model\":\"tandem\",\"prompt\":\"hi\"}";
    String detokenize = "{\"model\":\"tandem\",\"tokens\":[1]}";
    server.gate.close();
    CompletableFuture<HttpResponse<String>> first = postAsync("sk-alice", 5);
    eventually("alice's first request is running", () -> server.inFlight() == 1);
    for (String[] call : new String[][] {{"/tokenize", tokenize}, {"/detokenize", detokenize}}) {
      HttpResponse<String> refused = server.post(call[0], call[1], "sk-alice");
      assertEquals(429, refused.statusCode(), call[0] + ": " + refused.body());
      assertTrue(refused.body().contains("tenant 'alice' already has 1 request running, its limit is 1"), refused.body());
      assertRateLimit("requests", refused);
    }
    server.gate.open();
    assertEquals(200, first.get().statusCode());
    HttpResponse<String> tokens = server.post("/tokenize", tokenize, "sk-alice");
    assertEquals(200, tokens.statusCode(), tokens.body());
    String ids = new com.fasterxml.jackson.databind.ObjectMapper().readTree(tokens.body()).get("tokens").toString();
    HttpResponse<String> text = server.post("/detokenize", detokenize.replace("[1]", ids), "sk-alice");
    assertEquals(200, text.statusCode(), text.body());
    assertEquals(200, server.post("/v1/chat/completions", String.format(BODY, 5), "sk-alice").statusCode(),
        "a finished /tokenize holds no request of its tenant");
  }

  @Test
  void aTenantOverItsTokensPerMinuteGets429UntilTheBudgetRefills() throws Exception {
    HttpResponse<String> spend = server.post("/v1/chat/completions", String.format(BODY, 40), "sk-dave");
    assertEquals(200, spend.statusCode(), spend.body());
    assertTrue(new com.fasterxml.jackson.databind.ObjectMapper().readTree(spend.body()).at("/usage/total_tokens").asInt() > 30,
        "a request admitted within the budget is not cut when it overdraws it: " + spend.body());
    HttpResponse<String> over = server.post("/v1/chat/completions", String.format(BODY, 5), "sk-dave");
    assertEquals(429, over.statusCode(), over.body());
    int retry = Integer.parseInt(over.headers().firstValue("Retry-After").orElseThrow());
    assertTrue(retry >= 1 && retry <= 60, "Retry-After within the minute: " + retry);
    assertTrue(over.body().contains("tokens per minute"), over.body());
    assertRateLimit("tokens", over);
    assertEquals(200, server.post("/v1/chat/completions", String.format(BODY, 5), "sk-bob").statusCode(),
        "other tenants are not affected");
  }

  /** OpenAI's 429 error object: {@code type} says which limit ("requests" or "tokens"), {@code code} that it is one. */
  private static void assertRateLimit(String limit, HttpResponse<String> r) throws Exception {
    var error = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.body()).path("error");
    assertEquals(limit, error.path("type").asText(), r.body());
    assertEquals("rate_limit_exceeded", error.path("code").asText(), r.body());
  }

  @Test
  void anUnknownOrMissingKeyIs401() throws Exception {
    assertEquals(401, server.post("/v1/chat/completions", String.format(BODY, 5), "sk-mallory").statusCode());
    assertEquals(401, server.post("/v1/chat/completions", String.format(BODY, 5), null).statusCode());
    assertEquals(401, server.get("/v1/models").statusCode());
    // Every /v1 path needs a key, one that is no endpoint too, as vLLM's (tester49a: a 404 without a key).
    assertEquals(401, server.get("/v1/nope").statusCode());
    assertEquals(404, server.http.send(HttpRequest.newBuilder(URI.create(server.base + "/v1/nope")).header("Authorization",
        "Bearer sk-bob").timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
    assertEquals(404, server.get("/nope").statusCode(), "outside /v1, no key is asked for");
    // A method a /v1 path does not take: the key first, as vLLM's middleware asks it (tester49e: a 405 without one).
    assertEquals(401, server.get("/v1/completions").statusCode());
    // OPTIONS passes without one, as vLLM's middleware lets it (tester49f).
    assertEquals(404, server.http.send(HttpRequest.newBuilder(URI.create(server.base + "/v1/nope"))
        .method("OPTIONS", HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(30)).build(),
        HttpResponse.BodyHandlers.ofString()).statusCode());
    assertEquals(405, server.http.send(HttpRequest.newBuilder(URI.create(server.base + "/v1/completions")).header("Authorization",
        "Bearer sk-bob").timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
  }

  /**
   * A 401 says how to authenticate (RFC 9110, section 11.6.1): with a bearer token (RFC 6750, section
   * 3), and, when one came and is no key, that it is invalid; none came, or another scheme did: no
   * error code (RFC 6750, section 3.1). The body stays OpenAI's error object.
   */
  @Test
  void a401ChallengesForABearerTokenAndSaysWhenTheOneSentIsInvalid() throws Exception {
    HttpResponse<String> wrong = server.post("/v1/chat/completions", String.format(BODY, 5), "sk-mallory");
    assertEquals(401, wrong.statusCode());
    assertEquals("Bearer error=\"invalid_token\"", wrong.headers().firstValue("WWW-Authenticate").orElse(null));
    assertTrue(wrong.body().contains("\"code\":\"invalid_api_key\""), wrong.body());
    HttpResponse<String> none = server.get("/v1/models");
    assertEquals(401, none.statusCode());
    assertEquals("Bearer", none.headers().firstValue("WWW-Authenticate").orElse(null));
    HttpResponse<String> basic = server.http.send(HttpRequest.newBuilder(URI.create(server.base + "/v1/models"))
        .header("Authorization", "Basic YTpi").timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(401, basic.statusCode());
    assertEquals("Bearer", basic.headers().firstValue("WWW-Authenticate").orElse(null));
  }

  /** Two keys (a proxy adding its own beside the client's) are refused, not the first one taken. */
  @Test
  void twoAuthorizationHeadersAreA401SayingToSendOne() throws Exception {
    HttpResponse<String> two = server.http.send(HttpRequest.newBuilder(URI.create(server.base + "/v1/models"))
        .header("Authorization", "Bearer sk-bob").header("Authorization", "Bearer sk-carol")
        .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(401, two.statusCode(), two.body());
    assertTrue(two.body().contains("the request has 2 Authorization headers; send one"), two.body());
    assertEquals("Bearer", two.headers().firstValue("WWW-Authenticate").orElse(null));
  }

  @Test
  void refusedCallersAreCountedUnderANamedTenantLabelTheHelpExplains() throws Exception {
    String series = "tandem:tenant_http_responses_total{tenant=\"unauthenticated\",status=\"401\"} ";
    double before = count(series);
    assertEquals(401, server.post("/v1/chat/completions", String.format(BODY, 5), "sk-mallory").statusCode());
    assertEquals(before + 1, count(series), "a 401 counts under tenant \"unauthenticated\"");
    String metrics = server.scrape();
    assertTrue(!metrics.contains("tenant=\"\""), "no empty tenant label: " + metrics);
    assertTrue(metrics.contains("# HELP tandem:tenant_http_responses_total") && metrics.lines()
        .filter(l -> l.startsWith("# HELP tandem:tenant_http_responses_total")).findFirst().orElseThrow()
        .contains("\"unauthenticated\""), "the help says what the label means");
  }

  /**
   * A configured tenant's counters are there at 0 before its first request (erin sends none), so
   * that {@code rate()} sees the first one, as Prometheus' instrumentation guidelines ask of labels
   * known in advance; its HTTP responses' status codes are not known in advance.
   */
  @Test
  void aConfiguredTenantsCountersAreThereAtZeroBeforeItsFirstRequest() throws Exception {
    List<String> lines = server.scrape().lines().toList();
    for (String series : new String[] {
        "tandem:tenant_prompt_tokens_total{tenant=\"erin\"} 0",
        "tandem:tenant_generation_tokens_total{tenant=\"erin\",model=\"small\"} 0",
        "tandem:tenant_generation_tokens_total{tenant=\"erin\",model=\"large\"} 0",
        "tandem:tenant_generation_tokens_total{tenant=\"erin\",model=\"injected\"} 0",
        "tandem:tenant_request_success_total{tenant=\"erin\",finished_reason=\"stop\"} 0",
        "tandem:tenant_request_success_total{tenant=\"erin\",finished_reason=\"length\"} 0",
        "tandem:tenant_request_success_total{tenant=\"erin\",finished_reason=\"abort\"} 0",
        "tandem:tenant_request_success_total{tenant=\"erin\",finished_reason=\"error\"} 0",
        "tandem:tenant_requests_cancelled_total{tenant=\"erin\"} 0"})
      assertTrue(lines.contains(series), "present at 0 before the tenant's first request: " + series + "\n"
          + String.join("\n", lines));
  }

  /** A labelled series' value now, 0 before its first count. */
  private static double count(String series) throws Exception {
    return server.scrape().lines().filter(l -> l.startsWith(series))
        .mapToDouble(l -> Double.parseDouble(l.substring(series.length()).trim())).findFirst().orElse(0);
  }

  @Test
  void aClientThatHangsUpMidStreamCancelsItsSession() throws Exception {
    double cancelledBefore = server.metric("tandem:requests_cancelled_total");
    server.gate.close();
    server.gate.allow(3);
    String body = String.format(BODY, 500).replace("}]", "}],\"stream\":true");
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", server.server.port())) {
      socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Authorization: Bearer sk-bob\r\nContent-Type: application/json\r\nContent-Length: "
          + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
      BufferedReader reader = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
      assertTrue(reader.readLine().contains("200"));
      String line;
      while ((line = reader.readLine()) != null && !line.startsWith("data: {")) { }
      assertTrue(line != null, "a first chunk arrived");
      socket.setSoLinger(true, 0); // hang up hard, as a killed client does
    }
    eventually("the request counts as cancelled", () -> server.metric("tandem:requests_cancelled_total") == cancelledBefore + 1);
    eventually("nothing runs any more", () -> server.inFlight() == 0);
  }

  /**
   * A client that sends its next request as soon as it reads a stream's {@code data: [DONE]}, as a
   * client working through prompts one at a time does, is not refused for the request it just read
   * to the end: the tenant's slot is free before {@code [DONE]} goes out, as a non-streamed answer's
   * is before its body (tester52: about 1 in 100 such requests got alice's 429).
   */
  @Test
  void theNextRequestAfterAStreamsDoneIsNotRefusedForIt() throws Exception {
    String body = String.format(BODY, 3).replace("}]", "}],\"stream\":true");
    for (int i = 0; i < 1000; i++) {
      try (java.net.Socket socket = new java.net.Socket("127.0.0.1", server.server.port())) {
        socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + "Authorization: Bearer sk-alice\r\nContent-Type: application/json\r\nContent-Length: "
            + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
        BufferedReader reader = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
        String status = reader.readLine();
        assertTrue(status.contains(" 200 "), "request " + i + ": " + status);
        String line;
        while ((line = reader.readLine()) != null && !line.equals("data: [DONE]")) { }
        assertTrue(line != null, "request " + i + " read to its [DONE]");
      }
    }
  }

  @Test
  void healthAndMetricsTellAnOperatorWhatIsGoingOn() throws Exception {
    assertEquals(200, server.get("/health/live").statusCode());
    HttpResponse<String> ready = server.get("/health/ready");
    assertEquals(200, ready.statusCode());
    assertTrue(ready.body().contains("\"small\":1") && ready.body().contains("\"large\":1"), ready.body());
    server.post("/v1/chat/completions", String.format(BODY, 30), "sk-bob");
    String metrics = server.scrape();
    for (String name : new String[] {"tandem:time_to_first_token_seconds_bucket", "tandem:inter_token_latency_seconds_count",
        "tandem:e2e_request_latency_seconds_sum", "tandem:generation_tokens_total{model=\"small\"}",
        "tandem:worker_queue_length{role=\"large\"", "tandem:prefix_cache_hits_total{role=\"small\"", "tandem:takeovers_total"})
      assertTrue(metrics.contains(name), "metrics have " + name);
    assertTrue(server.metric("tandem:takeovers_total") > 0);
  }

  /**
   * {@code tandem.http.retry-after = 0s} sends no Retry-After on any refusal of admission, as its
   * documentation says: the server at capacity, a tenant at its concurrency and at its tokens per
   * minute (a tester's 503 and 429s said {@code Retry-After: 1} with it).
   */
  @Test
  void aRetryAfterOfZeroSendsNoneOnAnyRefusalOfAdmission() {
    long[] now = {0};
    Tenants none = new Tenants(List.of(new TenantSpec("sk-aaaaaaaaaaaaaaaa", "a", 1, 0),
        new TenantSpec("sk-bbbbbbbbbbbbbbbb", "b", 0, 60), new TenantSpec("sk-cccccccccccccccc", "c", 0, 0)), 2, 0,
        () -> now[0]);
    none.admit("a");
    assertEquals(0, assertThrows(ApiError.class, () -> none.admit("a")).retryAfterSeconds(), "a at its concurrency");
    none.admit("b").close();
    Tenants.Permit spent = none.admit("b");
    spent.addTokens(600);
    spent.close();
    ApiError tokens = assertThrows(ApiError.class, () -> none.admit("b"));
    assertEquals(429, tokens.status());
    assertEquals(0, tokens.retryAfterSeconds(), "b at its tokens per minute: " + tokens.getMessage());
    none.admit("c");
    ApiError full = assertThrows(ApiError.class, () -> none.admit("c"));
    assertEquals(503, full.status(), full.getMessage());
    assertEquals(0, full.retryAfterSeconds(), full.getMessage());
  }

  /**
   * The tokens-per-minute wait is the least one while requests of the tenant still run, which are
   * charged when they end: the message says so (tester46a: a retry at the Retry-After of 2 s met
   * a second 429 of 29 s, once a running request had been charged).
   */
  @Test
  void aTokensPerMinuteRefusalSaysRequestsStillRunningAreChargedWhenTheyEnd() {
    long[] now = {0};
    Tenants t = new Tenants(List.of(new TenantSpec("sk-bbbbbbbbbbbbbbbb", "b", 0, 60)), 0, 1, () -> now[0]);
    Tenants.Permit running = t.admit("b");
    Tenants.Permit spent = t.admit("b");
    spent.addTokens(120);
    spent.close();
    ApiError over = assertThrows(ApiError.class, () -> t.admit("b"));
    assertEquals("tenant 'b' used its 60 tokens per minute; retry in 61 s, or later: its 1 request still running is charged"
        + " when it ends", over.getMessage());
    assertEquals(61, over.retryAfterSeconds());
    running.close();
    assertEquals("tenant 'b' used its 60 tokens per minute; retry in 61 s", assertThrows(ApiError.class, () -> t.admit("b")).getMessage());
  }

  /** A server of one request in flight says "1 request", as its operator would write it. */
  @Test
  void aServerFullWithOneRequestSaysOneRequest() {
    Tenants one = new Tenants(List.of(), 1, 1, System::nanoTime);
    one.admit(Tenants.OPEN_TENANT);
    ApiError full = assertThrows(ApiError.class, () -> one.admit(Tenants.OPEN_TENANT));
    assertEquals("the server is at capacity (1 request in flight); retry in 1 s", full.getMessage());
  }

  /** The advice says the wait Retry-After gives (tester58k: "retry shortly" beside a Retry-After of 120 s). */
  @Test
  void theAdviceSaysTheWaitRetryAfterGives() {
    for (int retryAfter : new int[] {0, 120}) {
      Tenants one = new Tenants(List.of(), 1, retryAfter, System::nanoTime);
      one.admit(Tenants.OPEN_TENANT);
      ApiError full = assertThrows(ApiError.class, () -> one.admit(Tenants.OPEN_TENANT));
      assertEquals("the server is at capacity (1 request in flight); " + (retryAfter == 0 ? "retry shortly" : "retry in 120 s"),
          full.getMessage());
    }
    assertTrue(ApiError.forFailure(io.tandem.protocol.FailureCode.TENANT_QUEUE_FULL, "tenant 'a' has 4 requests queued", 120)
        .getMessage().endsWith("; retry in 120 s"));
  }
}
