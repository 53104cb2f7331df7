package io.tandem.orchestrator.http;

import static io.tandem.orchestrator.http.TestServer.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.inference.scripted.ScriptedTokenizer;
import io.tandem.protocol.FailureCode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What real OpenAI clients do to a server, answered as vLLM answers it, over loopback with
 * java.net.http against models of a 64-token context: one test per kind of failure found by
 * replaying public bug reports.
 */
class ApiRoundTwoTest {
  static final int CONTEXT = 64;
  static final String KEY = "sk-round-two";
  static final ObjectMapper JSON = new ObjectMapper();
  @RegisterExtension
  static final TestServer server = TestServer.start("tandem.http.api-keys = [{key = \"" + KEY + "\", tenant = acme}]\n"
      + "akka.http.server.request-timeout = 1s\nakka.http.server.idle-timeout = 1s\n", CONTEXT);

  private static HttpResponse<String> chat(String fields) throws Exception {
    return server.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"What is 1 + 2?\"}]" + fields + "}", KEY);
  }

  private static JsonNode json(HttpResponse<String> r) throws Exception {
    return JSON.readTree(r.body());
  }

  // 1. Generation that runs past the context.

  @Test
  void promptPlusMaxTokensOverTheContextIs400BeforeGeneratingNamingTheNumbers() throws Exception {
    HttpResponse<String> r = chat(",\"max_tokens\":100");
    assertEquals(400, r.statusCode(), r.body());
    JsonNode e = json(r).get("error");
    assertEquals("context_length_exceeded", e.get("code").asText());
    assertEquals("This model's maximum context length is 64 tokens. However, you requested 101 tokens (1 in the messages,"
        + " 100 in the completion). Please reduce the length of the messages or completion.", e.get("message").asText());
    assertEquals(200, chat(",\"max_tokens\":63").statusCode(), "exactly the context fits");
  }

  @Test
  void withoutMaxTokensTheGenerationIsCappedToFitAndEndsWithLength() throws Exception {
    for (String mode : new String[] {"small", "speculative"}) {
      HttpResponse<String> r = chat(",\"tandem\":{\"mode\":\"" + mode + "\"}");
      assertEquals(200, r.statusCode(), r.body());
      JsonNode body = json(r);
      assertEquals("length", body.at("/choices/0/finish_reason").asText(), mode);
      assertEquals(CONTEXT - 1, body.at("/usage/completion_tokens").asInt(), mode + ": the context less the prompt");
      assertEquals(1, body.at("/usage/prompt_tokens").asInt());
    }
  }

  // 2. Round trips.

  @Test
  void anAssistantMessageSentBackAsTheServerWroteItIsAcceptedAndDefaultParamsToo() throws Exception {
    JsonNode first = json(chat(",\"max_tokens\":5")).at("/choices/0/message");
    String echoed = JSON.writeValueAsString(((com.fasterxml.jackson.databind.node.ObjectNode) first.deepCopy())
        .put("reasoning_content", "thought").putNull("tool_calls").putNull("function_call").putNull("audio")
        .set("annotations", JSON.createArrayNode()));
    HttpResponse<String> second = server.post("/v1/chat/completions", "{\"model\":\"tandem\",\"messages\":["
        + "{\"role\":\"user\",\"content\":\"What is 1 + 2?\"}," + echoed + ",{\"role\":\"user\",\"content\":\"Sure?\"}],"
        + "\"max_tokens\":5,\"frequency_penalty\":0,\"presence_penalty\":0,\"parallel_tool_calls\":true,\"store\":false,"
        + "\"metadata\":{\"k\":\"v\"},\"service_tier\":\"auto\",\"logit_bias\":{},\"n\":1,\"logprobs\":false,"
        + "\"top_logprobs\":0,\"response_format\":{\"type\":\"text\"}}", KEY);
    assertEquals(200, second.statusCode(), second.body());
    HttpResponse<String> penalty = chat(",\"presence_penalty\":0.5");
    assertEquals(400, penalty.statusCode());
    assertEquals("unsupported_parameter", json(penalty).at("/error/code").asText());
    assertTrue(json(penalty).at("/error/message").asText().contains("presence_penalty"), penalty.body());
    HttpResponse<String> call = chat(",\"messages\":null").statusCode() == 0 ? null : server.post("/v1/chat/completions",
        "{\"messages\":[{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\"}]}]}", KEY);
    assertEquals(400, call.statusCode(), "a real tool call is still refused: " + call.body());
    // A completion takes response_format as vLLM's CompletionRequest does: text, the default; a structure is refused for what
    // it asks, not as a field of chat's (tester49a).
    assertEquals(200, server.post("/v1/completions", "{\"prompt\":\"1 + 2 =\",\"max_tokens\":3,\"response_format\":"
        + "{\"type\":\"text\"}}", KEY).statusCode());
    HttpResponse<String> structured = server.post("/v1/completions", "{\"prompt\":\"1 + 2 =\",\"max_tokens\":3,"
        + "\"response_format\":{\"type\":\"json_object\"}}", KEY);
    assertEquals(400, structured.statusCode(), structured.body());
    assertEquals("response_format", json(structured).at("/error/param").asText(), structured.body());
    assertFalse(json(structured).at("/error/message").asText().contains("/v1/chat/completions"), structured.body());
  }

  // 3. Models.

  @Test
  void oneModelCanBeFetchedUnknownOnesAre404AndModelIsOptional() throws Exception {
    HttpResponse<String> one = server.http.send(java.net.http.HttpRequest.newBuilder(
        java.net.URI.create(server.base + "/v1/models/tandem")).header("Authorization", "Bearer " + KEY).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, one.statusCode(), one.body());
    assertEquals("tandem", json(one).get("id").asText());
    assertEquals(CONTEXT, json(one).get("max_model_len").asInt(), "the context a request may use, as vLLM reports it");
    HttpResponse<String> none = server.http.send(java.net.http.HttpRequest.newBuilder(
        java.net.URI.create(server.base + "/v1/models/gpt-4o")).header("Authorization", "Bearer " + KEY).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(404, none.statusCode());
    assertEquals("model_not_found", json(none).at("/error/code").asText());
    HttpResponse<String> noModel = chat(",\"max_tokens\":3");
    assertEquals(200, noModel.statusCode(), noModel.body());
    assertEquals("tandem", json(noModel).get("model").asText());
  }

  // 4. Empty and token prompts.

  @Test
  void anEmptyPromptIs400AndTokenIdsAreOnePromptValidatedAgainstTheVocabulary() throws Exception {
    for (String empty : new String[] {"\"\"", "[]", "[\"\"]", "[[]]"}) {
      HttpResponse<String> r = server.post("/v1/completions", "{\"prompt\":" + empty + ",\"max_tokens\":3}", KEY);
      assertEquals(400, r.statusCode(), empty + ": " + r.body());
      assertEquals("prompt", json(r).at("/error/param").asText());
    }
    // The scripted tokenizer adds no special tokens: an empty text is no tokens even with them.
    HttpResponse<String> text = server.post("/v1/completions", "{\"prompt\":\"\",\"max_tokens\":3}", KEY);
    assertTrue(json(text).at("/error/message").asText().contains("adds no special tokens"), text.body());
    int once = ScriptedTokenizer.idOf("Once");
    int upon = ScriptedTokenizer.idOf(" upon");
    HttpResponse<String> ids = server.post("/v1/completions", "{\"prompt\":[" + once + "," + upon + "],\"max_tokens\":3}", KEY);
    assertEquals(200, ids.statusCode(), ids.body());
    assertEquals(2, json(ids).at("/usage/prompt_tokens").asInt(), "a list of ints is one prompt of that many tokens");
    assertEquals(200, server.post("/v1/completions", "{\"prompt\":[[" + once + "]],\"max_tokens\":3}", KEY).statusCode());
    HttpResponse<String> unknown = server.post("/v1/completions", "{\"prompt\":[" + once + ",987654321],\"max_tokens\":3}", KEY);
    assertEquals(400, unknown.statusCode(), unknown.body());
    assertTrue(json(unknown).at("/error/message").asText().contains("987654321"), unknown.body());
    HttpResponse<String> batch = server.post("/v1/completions", "{\"prompt\":[[" + once + "],[" + upon + "]],\"max_tokens\":3}", KEY);
    assertEquals(400, batch.statusCode());
    assertTrue(json(batch).at("/error/message").asText().contains("batch of 2"), batch.body());
    // A list that is no batch is named by its element at fault (tester54c: ["a", 1] was called a batch of 2 prompts).
    for (String[] odd : new String[][] {{"[\"a\",1]", "prompt[1] is an integer where prompt[0] begins a list of strings"},
        {"[[" + once + "],\"b\"]", "prompt[1] is a string where prompt[0] begins a list of lists of token ids"}}) {
      HttpResponse<String> r = server.post("/v1/completions", "{\"prompt\":" + odd[0] + ",\"max_tokens\":3}", KEY);
      assertEquals(400, r.statusCode(), r.body());
      assertTrue(json(r).at("/error/message").asText().startsWith(odd[1]), r.body());
      assertEquals("prompt[1]", json(r).at("/error/param").asText(), r.body());
    }
  }

  // 5. A non-streaming client that leaves.

  @Test
  void aNonStreamingClientThatClosesItsSocketCancelsItsSessionAndFreesItsCaches() throws Exception {
    double cancelledBefore = server.metric("tandem:requests_cancelled_total");
    double abortedBefore = aborted();
    double closedBefore = closed();
    server.gate.close();
    server.gate.allow(3);
    String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":60,\"tandem\":{\"mode\":\"small\"}}";
    try (Socket socket = new Socket("127.0.0.1", server.server.port())) {
      socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + KEY
          + "\r\nContent-Type: application/json\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length
          + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
      eventually("the request is running", () -> server.inFlight() == 1);
    }
    eventually("the request counts as cancelled", () -> server.metric("tandem:requests_cancelled_total") == cancelledBefore + 1);
    eventually("and as ended by an abort, as vLLM counts it", () -> aborted() == abortedBefore + 1);
    server.gate.open();
    eventually("nothing runs any more", () -> server.inFlight() == 0);
    eventually("its cache is freed", () -> cachedSessions() == 0);
    assertEquals(cancelledBefore + 1, server.metric("tandem:requests_cancelled_total"), "it never finished for nobody");
    eventually("its answer counts as the request log has it, 499", () -> closed() == closedBefore + 1);
  }

  @Test
  void aStreamingClientThatResetsItsConnectionBeforeTheFirstChunkFreesItsPlace() throws Exception {
    double cancelledBefore = server.metric("tandem:requests_cancelled_total");
    double closedBefore = closed();
    double okBefore = server.count("tandem:http_responses_total{status=\"200\"}");
    server.gate.close(); // no token yet: the response waits for the session's first output
    String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":60,\"stream\":true,"
        + "\"tandem\":{\"mode\":\"small\"}}";
    try (Socket socket = new Socket("127.0.0.1", server.server.port())) {
      socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + KEY
          + "\r\nContent-Type: application/json\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length
          + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
      eventually("the request is running", () -> server.inFlight() == 1);
      socket.setSoLinger(true, 0); // closed with a reset, as a killed client's socket is
    }
    // The body of its answer is never written: its end must come from the connection's.
    eventually("nothing runs any more", () -> server.inFlight() == 0);
    eventually("the request counts as cancelled", () -> server.metric("tandem:requests_cancelled_total") == cancelledBefore + 1);
    eventually("its answer counts as the request log has it, 499", () -> closed() == closedBefore + 1);
    assertEquals(okBefore, server.count("tandem:http_responses_total{status=\"200\"}"),
        "and only so: the 200 its stream would have begun with was never sent");
    server.gate.open();
    eventually("its cache is freed", () -> cachedSessions() == 0);
  }

  @Test
  void aClientThatResetsItsConnectionMidBodyCountsAsGoneNotAsAServerError() throws Exception {
    double closedBefore = closed();
    double errorsBefore = serverErrors();
    String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true}";
    try (Socket socket = new Socket("127.0.0.1", server.server.port())) {
      // Expect: 100-continue makes the server say when it starts reading the body.
      socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + KEY
          + "\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " + body.length()
          + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
      BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
      assertEquals("HTTP/1.1 100 Continue", in.readLine());
      socket.getOutputStream().write(body.substring(0, body.length() - 5).getBytes(StandardCharsets.UTF_8));
      socket.setSoLinger(true, 0); // then closed with a reset, the body cut short
    }
    eventually("it counts as the client's leaving, 499", () -> closed() == closedBefore + 1);
    assertEquals(errorsBefore, serverErrors(), "not as a 500");
  }

  private static double serverErrors() throws Exception {
    return server.count("tandem:http_responses_total{status=\"500\"}");
  }

  private static double closed() throws Exception {
    return server.count("tandem:http_responses_total{status=\"499\"}");
  }

  private static double aborted() throws Exception {
    return server.count("tandem:request_success_total{finished_reason=\"abort\"}");
  }

  private static double cachedSessions() throws Exception {
    for (String line : server.scrape().split("\n"))
      if (line.startsWith("tandem:kv_cache_sessions{role=\"small\"")) return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
    return -1;
  }

  // 6. Usage.

  @Test
  void usageIsRightWhenAStopStringEndsTheGeneration() throws Exception {
    double promptBefore = server.metric("tandem:prompt_tokens_total");
    HttpResponse<String> r = chat(",\"max_tokens\":40,\"stop\":[\"equals\"],\"tandem\":{\"mode\":\"small\"}");
    assertEquals(200, r.statusCode(), r.body());
    JsonNode body = json(r);
    assertEquals("stop", body.at("/choices/0/finish_reason").asText());
    assertFalse(body.at("/choices/0/message/content").asText().contains("equals"));
    assertEquals(1, body.at("/usage/prompt_tokens").asInt());
    int completion = body.at("/usage/completion_tokens").asInt();
    assertTrue(completion > 0 && completion < 40, "the tokens through the stop string: " + completion);
    assertEquals(promptBefore + 1, server.metric("tandem:prompt_tokens_total"));
  }

  @Test
  void aSpeculativeRequestEndedByAStopStringReportsTheCountersOfWhatRanBeforeIt() throws Exception {
    // Each of the paper's counters on /metrics grows by what the response's counters say (tester61a: five of them were
    // named in no test, and a mutation that swapped recaps and look-aheads and dropped the others passed).
    String[][] series = {{"tandem:triggers_total", "triggers"}, {"tandem:lookaheads_total", "lookaheads"},
        {"tandem:takeovers_total", "takeovers"}, {"tandem:recaps_total", "recaps"},
        {"tandem:takeovers_skipped_total", "takeovers_skipped"}, {"tandem:small_tokens_discarded_total", "small_tokens_discarded"}};
    double[] before = new double[series.length];
    for (int i = 0; i < series.length; i++) before[i] = server.metric(series[i][0]);
    JsonNode whole = json(chat(",\"max_tokens\":40,\"tandem\":{\"mode\":\"speculative\"}"));
    assertTrue(whole.at("/tandem/counters/takeovers").asInt() > 0, whole.toString());
    for (int i = 0; i < series.length; i++)
      assertEquals(before[i] + whole.at("/tandem/counters/" + series[i][1]).asInt(), server.metric(series[i][0]),
          series[i][0] + " against " + whole.at("/tandem/counters"));
    // The last few words of that output, found nowhere earlier in it: the stop comes after a takeover.
    String content = whole.at("/choices/0/message/content").asText();
    String stop = content.substring(content.length() - 12);
    assertEquals(content.length() - stop.length(), content.indexOf(stop), content);

    double takeoversBefore = server.metric("tandem:takeovers_total");
    double betweenTokensBefore = server.metric("tandem:inter_token_latency_seconds_count");
    JsonNode cut = json(chat(",\"max_tokens\":40,\"stop\":[" + JSON.writeValueAsString(stop) + "],\"tandem\":{\"mode\":\"speculative\"}"));
    // Between the tokens sent, not those the session wrote past the stop string before it heard of it (tester60b).
    assertEquals(betweenTokensBefore + cut.at("/usage/completion_tokens").asInt() - 1,
        server.metric("tandem:inter_token_latency_seconds_count"), cut.toString());
    assertEquals("stop", cut.at("/choices/0/finish_reason").asText(), cut.toString());
    assertEquals(content.substring(0, content.length() - stop.length()), cut.at("/choices/0/message/content").asText());
    JsonNode counters = cut.at("/tandem/counters");
    assertTrue(counters.path("triggers").asInt() > 0, cut.toString());
    int takeovers = counters.path("takeovers").asInt();
    assertTrue(takeovers > 0, cut.toString());
    JsonNode tokens = counters.path("tokens");
    assertEquals(cut.at("/usage/completion_tokens").asInt(),
        tokens.path("small").asInt() + tokens.path("large").asInt() + tokens.path("injected").asInt(),
        "the tokens are those the client received: " + cut);
    assertEquals(takeoversBefore + takeovers, server.metric("tandem:takeovers_total"));

    String streamed = server.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"What is 1 + 2?\"}],"
        + "\"max_tokens\":40,\"stream\":true,\"stop\":[" + JSON.writeValueAsString(stop) + "],\"tandem\":{\"mode\":\"speculative\"}}", KEY).body();
    assertTrue(streamed.endsWith("data: [DONE]\n\n"), streamed);
    assertTrue(streamed.contains("\"finish_reason\":\"stop\""), streamed);
    assertTrue(streamed.contains("\"takeovers\":" + takeovers), streamed);
  }

  @Test
  void usageCountersAndMetricsAgreeWhenTheTimeOutEndsTheGenerationMidStep() throws Exception {
    String smallTokens = "tandem:generation_tokens_total{model=\"small\"}";
    double before = server.metric(smallTokens);
    double requestsBefore = server.metric("tandem:request_generation_tokens_count");
    double tokensBefore = server.metric("tandem:request_generation_tokens_sum");
    double promptBefore = server.metric("tandem:request_prompt_tokens_sum");
    server.gate.close();
    server.gate.allow(3);
    HttpResponse<String> r = chat(",\"max_tokens\":40,\"tandem\":{\"mode\":\"small\",\"time_out\":1}");
    assertEquals(200, r.statusCode(), r.body());
    JsonNode body = json(r);
    assertEquals("length", body.at("/choices/0/finish_reason").asText());
    assertEquals("timeout", body.at("/tandem/finish_reason").asText());
    assertEquals(3, body.at("/usage/completion_tokens").asInt(), "the three tokens written before the time-out: " + r.body());
    assertEquals(1, body.at("/usage/prompt_tokens").asInt());
    assertFalse(body.at("/choices/0/message/content").asText().isEmpty());
    // The step in flight streamed them: the answer's counters and /metrics count them as its usage does.
    assertEquals(3, body.at("/tandem/counters/tokens/small").asInt(), r.body());
    assertEquals(3, body.at("/tandem/spans/0/end").asInt(), r.body());
    TestServer.eventually("the metric counts the three tokens", () -> server.metric(smallTokens) == before + 3);
    // The request's own histograms (vLLM's request_generation_tokens, request_prompt_tokens) have it once.
    assertEquals(requestsBefore + 1, server.metric("tandem:request_generation_tokens_count"));
    assertEquals(tokensBefore + 3, server.metric("tandem:request_generation_tokens_sum"));
    assertEquals(promptBefore + 1, server.metric("tandem:request_prompt_tokens_sum"));
    assertTrue(server.scrape().contains("tandem:request_generation_tokens_bucket{le=\"5.0\"}"));
  }

  // 7. Per-tenant metrics.

  @Test
  void requestTokenAndErrorMetricsCarryTheTenantNeverTheKey() throws Exception {
    assertEquals(200, chat(",\"max_tokens\":3").statusCode());
    assertEquals(400, chat(",\"max_tokens\":0").statusCode());
    String metrics = server.scrape();
    for (String series : new String[] {"tandem:tenant_request_success_total{tenant=\"acme\",finished_reason=\"length\"}",
        "tandem:tenant_prompt_tokens_total{tenant=\"acme\"}", "tandem:tenant_generation_tokens_total{tenant=\"acme\",model=\"small\"}",
        "tandem:tenant_http_responses_total{tenant=\"acme\",status=\"400\"}"})
      assertTrue(metrics.contains(series), "metrics have " + series);
    assertFalse(metrics.contains(KEY), "never the key");
  }

  // 8. Errors as data.

  @Test
  void theStatusFollowsTheFailureCode() {
    for (FailureCode code : FailureCode.values()) {
      ApiError e = ApiError.forFailure(code, "why", 2);
      int expected = switch (code) {
        case INVALID_REQUEST, CONTEXT_LENGTH_EXCEEDED -> 400;
        case QUEUE_FULL, NO_WORKER, WORKER_LOST, UNAVAILABLE, ROLE_NOT_SERVED -> 503;
        case TENANT_QUEUE_FULL -> 429;
        case TIMEOUT -> 504;
        case MODEL_ERROR, INTERNAL -> 500;
      };
      assertEquals(expected, e.status(), code.name());
      assertEquals(code.retryable(), e.retryAfterSeconds() > 0, code + ": Retry-After exactly when retrying may work");
      assertEquals(code == FailureCode.ROLE_NOT_SERVED, e.toResponse().getHeader("x-should-retry")
          .map(h -> h.value().equals("false")).orElse(false), code + ": x-should-retry: false exactly on the 503 that never clears");
      assertTrue(e.toResponse().entity().getContentType().toString().contains("json"));
    }
  }

  // akka-http's own answers are API answers too.

  @Test
  void aNonStreamingGenerationLongerThanAkkaHttpsDefaultTimeoutsStillGetsItsResult() throws Exception {
    // This server's akka.http.server timeouts are 1 s (see start()); tandem.http's own apply.
    server.gate.close();
    long t0 = System.nanoTime();
    java.util.concurrent.CompletableFuture<HttpResponse<String>> r = server.http.sendAsync(java.net.http.HttpRequest.newBuilder(
            java.net.URI.create(server.base + "/v1/chat/completions")).header("Authorization", "Bearer " + KEY)
        .header("Content-Type", "application/json").POST(java.net.http.HttpRequest.BodyPublishers.ofString(
            "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":5,\"tandem\":{\"mode\":\"small\"}}"))
        .build(), HttpResponse.BodyHandlers.ofString());
    // Steps pass one at a time, the last well after akka-http's own timeouts would have fired.
    for (int step = 0; step < 5; step++) {
      long due = t0 + (step + 1) * 600_000_000L;
      eventually("step " + step + " is due", () -> System.nanoTime() >= due || r.isDone());
      server.gate.allow(1);
    }
    server.gate.open();
    HttpResponse<String> done = r.get(30, java.util.concurrent.TimeUnit.SECONDS);
    assertTrue(System.nanoTime() - t0 > 2_000_000_000L, "it ran past akka-http's 1 s");
    assertEquals(200, done.statusCode(), done.body());
    assertEquals(5, json(done).at("/usage/completion_tokens").asInt());
  }

  @Test
  void aRequestAkkaHttpCannotParseGetsAnOpenAiErrorObject() throws Exception {
    try (Socket socket = new Socket("127.0.0.1", server.server.port())) {
      socket.getOutputStream().write("GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: x\r\n\r\n".getBytes(StandardCharsets.UTF_8));
      BufferedReader reader = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
      String status = reader.readLine();
      assertTrue(status.contains(" 400 "), status);
      String line;
      boolean json = false;
      while ((line = reader.readLine()) != null && !line.isEmpty()) json |= line.toLowerCase().contains("application/json");
      assertTrue(json, "a JSON body");
      char[] buf = new char[4096];
      int n = reader.read(buf);
      assertTrue(new String(buf, 0, Math.max(0, n)).contains("\"error\""), new String(buf, 0, Math.max(0, n)));
    }
  }

  // Bodies that are not JSON by their Content-Type.

  /** The status line and body of a POST to {@code path} with {@code contentType} (no header when null), over a raw socket. */
  private static String[] posted(String path, String contentType, byte[] body) throws Exception {
    try (Socket socket = new Socket("127.0.0.1", server.server.port())) {
      socket.getOutputStream().write(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + KEY
          + (contentType == null ? "" : "\r\nContent-Type: " + contentType) + "\r\nContent-Length: " + body.length
          + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().write(body);
      String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      return new String[] {answer.substring(0, answer.indexOf("\r\n")), answer.substring(answer.indexOf("\r\n\r\n") + 4)};
    }
  }

  @Test
  void aBodyNotSentAsJsonIs415AsVllmAnswersItAndNothingRuns() throws Exception {
    byte[] body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3}".getBytes(StandardCharsets.UTF_8);
    double received = server.count("tandem:prompt_tokens_total");
    // text/plain and a form are what a web page may POST anywhere without a CORS preflight.
    java.util.Map<String, String> refused = new java.util.LinkedHashMap<>();
    refused.put("text/plain", "'text/plain'");
    refused.put("text/plain;charset=UTF-8", "'text/plain; charset=UTF-8'");
    refused.put("application/x-www-form-urlencoded", "'application/x-www-form-urlencoded'");
    refused.put("multipart/form-data; boundary=x", "'multipart/form-data; boundary=x'");
    refused.put(null, "none (or application/octet-stream)");
    refused.put("application/json/x", "'application/json/x'");
    for (var c : refused.entrySet()) {
      for (String path : new String[] {"/v1/chat/completions", "/v1/completions", "/tokenize", "/detokenize"}) {
        String[] r = posted(path, c.getKey(), body);
        assertEquals("HTTP/1.1 415 Unsupported Media Type", r[0], c.getKey() + " " + path + ": " + r[1]);
        JsonNode e = JSON.readTree(r[1]).get("error");
        assertEquals("unsupported_media_type", e.get("code").asText(), r[1]);
        assertEquals("Unsupported Media Type: only 'application/json' is allowed, the request's Content-Type is "
            + c.getValue() + "; send the JSON body with the header Content-Type: application/json", e.get("message").asText());
      }
    }
    String[] empty = posted("/v1/chat/completions", null, new byte[0]);
    assertEquals("HTTP/1.1 415 Unsupported Media Type", empty[0], empty[1]);
    assertTrue(empty[1].contains("the request's Content-Type is none (or application/octet-stream)"), empty[1]);
    assertEquals(received, server.count("tandem:prompt_tokens_total"), "no refused body ran");
    // Parameters are not read, as vLLM reads none: the body is UTF-8 whatever it says.
    for (String type : new String[] {"application/json", "Application/JSON", "application/json; charset=utf-8",
        "application/json;charset=UTF-8", "application/json; charset=latin-1", "application/json;", "application/json; charset"}) {
      String[] r = posted("/v1/chat/completions", type, body);
      assertEquals("HTTP/1.1 200 OK", r[0], type + ": " + r[1]);
    }
  }

  // Compressed bodies, HEAD, and the metrics' format.

  /** A chat completion of {@code body} with a {@code Content-Encoding} line for each of {@code encodings}. */
  private static HttpResponse<String> encoded(byte[] body, String... encodings) throws Exception {
    java.net.http.HttpRequest.Builder b = java.net.http.HttpRequest.newBuilder(java.net.URI.create(server.base + "/v1/chat/completions"))
        .POST(java.net.http.HttpRequest.BodyPublishers.ofByteArray(body))
        .header("Content-Type", "application/json").header("Authorization", "Bearer " + KEY);
    for (String encoding : encodings) b.header("Content-Encoding", encoding);
    return server.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> encoded(String encoding, byte[] body) throws Exception {
    return encoded(body, encoding);
  }

  @Test
  void aGzipOrDeflateBodyIsDecodedAndAnotherEncodingIs415() throws Exception {
    byte[] body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3}".getBytes(StandardCharsets.UTF_8);
    java.io.ByteArrayOutputStream gz = new java.io.ByteArrayOutputStream();
    try (var out = new java.util.zip.GZIPOutputStream(gz)) {
      out.write(body);
    }
    java.io.ByteArrayOutputStream zlib = new java.io.ByteArrayOutputStream();
    try (var out = new java.util.zip.DeflaterOutputStream(zlib)) {
      out.write(body);
    }
    for (var c : java.util.Map.of("gzip", gz.toByteArray(), "deflate", zlib.toByteArray(), "x-gzip", gz.toByteArray(),
        "GZIP", gz.toByteArray(), "identity, gzip", gz.toByteArray()).entrySet()) {
      HttpResponse<String> r = encoded(c.getKey(), c.getValue());
      assertEquals(200, r.statusCode(), c.getKey() + ": " + r.body());
      assertEquals(3, json(r).at("/usage/completion_tokens").asInt(), c.getKey());
    }
    // Lines of one header are one list (RFC 9110, 5.3), empty elements nothing (5.6.1).
    for (String[] lines : java.util.List.of(new String[] {"identity", "gzip"}, new String[] {"gzip,"}, new String[] {", gzip"})) {
      HttpResponse<String> r = encoded(gz.toByteArray(), lines);
      assertEquals(200, r.statusCode(), String.join(" / ", lines) + ": " + r.body());
    }
    HttpResponse<String> twoLines = encoded(gz.toByteArray(), "gzip", "gzip");
    assertEquals(415, twoLines.statusCode(), twoLines.body());
    HttpResponse<String> parameter = encoded(gz.toByteArray(), "gzip;q=1");
    assertEquals(415, parameter.statusCode(), parameter.body());
    assertEquals("the request body's Content-Encoding gzip;q=1 is not supported; send it uncompressed, or with gzip"
        + " (x-gzip) or deflate", json(parameter).at("/error/message").asText());
    // Compressed twice: akka-http would undo the first coding only, and read gzip as the JSON.
    java.io.ByteArrayOutputStream twice = new java.io.ByteArrayOutputStream();
    try (var out = new java.util.zip.GZIPOutputStream(twice)) {
      out.write(gz.toByteArray());
    }
    HttpResponse<String> doubled = encoded("gzip, gzip", twice.toByteArray());
    assertEquals(415, doubled.statusCode(), doubled.body());
    assertEquals("the request body's Content-Encoding lists 2 codings (gzip, gzip); this server undoes one: send the"
        + " body compressed once, with gzip or deflate", json(doubled).at("/error/message").asText());
    HttpResponse<String> br = encoded("br", body);
    assertEquals(415, br.statusCode(), br.body());
    assertEquals("unsupported_content_encoding", json(br).at("/error/code").asText(), br.body());
    for (String encoding : new String[] {"gzip", "deflate"}) {
      HttpResponse<String> corrupt = encoded(encoding, "not compressed".getBytes(StandardCharsets.UTF_8));
      assertEquals(400, corrupt.statusCode(), encoding + ": a body that is not what its encoding says is the client's fault: " + corrupt.body());
      assertEquals("invalid_request_error", json(corrupt).at("/error/type").asText(), corrupt.body());
      assertTrue(json(corrupt).at("/error/message").asText().contains("cannot be read"), corrupt.body());
      assertTrue(json(corrupt).at("/error/message").asText().endsWith("send it as its Content-Encoding header says, or without one"),
          "what to do about it: " + corrupt.body());
    }
  }

  @Test
  void headIsAnsweredLikeGetWithoutABodyAndMetricsSayTheirFormat() throws Exception {
    for (String path : new String[] {"/", "/health/ready", "/metrics"}) {
      HttpResponse<String> head = server.http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(server.base + path))
          .method("HEAD", java.net.http.HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, head.statusCode(), "HEAD " + path);
      assertEquals("", head.body(), "HEAD " + path);
    }
    String type = server.get("/metrics").headers().firstValue("Content-Type").orElse("").toLowerCase().replace(" ", "");
    assertEquals("text/plain;version=0.0.4;charset=utf-8", type, "Prometheus' text format 0.0.4");
  }
}
