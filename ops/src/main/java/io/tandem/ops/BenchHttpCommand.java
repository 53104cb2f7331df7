package io.tandem.ops;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import io.tandem.orchestrator.http.HttpSettings;
import io.tandem.orchestrator.http.TandemHttpServer;
import io.tandem.orchestrator.http.TenantSpec;
import io.tandem.protocol.Role;
import io.tandem.protocol.text.Plural;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tandem bench http}: a closed-loop load test of the HTTP API over loopback: N clients each
 * send one request at a time until the total is reached; prints throughput, latency percentiles
 * and the count of each kind of answer.
 */
@Command(name = "http", mixinStandardHelpOptions = true,
    description = {"Load-test the HTTP API on this machine (loopback only): throughput, p50/p99 latency, 2xx/429/503 counts.",
        "Each request's whole answer, a stream's last chunk included, is waited for up to 5 minutes;"
            + " past that it counts as a transport error."})
public final class BenchHttpCommand implements Callable<Integer>, Interruptible {

  @Option(names = "--url", description = "Base URL of a running server, e.g. http://127.0.0.1:8080 (loopback only).")
  String url;

  @Option(names = "--scripted", description = "Start a server here on the scripted models of this case file (as generate --case) instead of --url.")
  Path scripted;

  @Option(names = "--tenant-max-concurrent", defaultValue = "0",
      description = "With --scripted: the bench tenant's max-concurrent (0: no keys, open server). Default: ${DEFAULT-VALUE}.")
  int tenantMaxConcurrent;

  @Option(names = "--concurrency", defaultValue = "64", description = "Clients sending at once. Default: ${DEFAULT-VALUE}.")
  int concurrency;

  @Option(names = "--requests", defaultValue = "1000", description = "Requests in all. Default: ${DEFAULT-VALUE}.")
  int requests;

  @Option(names = "--max-tokens", defaultValue = "64", description = "max_tokens of each request. Default: ${DEFAULT-VALUE}.")
  int maxTokens;

  @Option(names = "--stream", description = "Stream the responses (SSE) and read them to the end.")
  boolean stream;

  @Option(names = "--api-key", description = "With --url: the bearer key to send.")
  String apiKey;

  @Option(names = "--model", defaultValue = "tandem", description = "Model name to send. Default: ${DEFAULT-VALUE}.")
  String model;

  @Option(names = "--json", description = "Print the figures as one JSON object.")
  boolean json;

  /** The server's request log, as logback.xml names it. */
  static final String REQUEST_LOG = "tandem.http.requests";

  @picocli.CommandLine.Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public String whenInterrupted() {
    return "its figures come at its end, so there are none; give fewer --requests for a shorter run";
  }

  @Override
  public Integer call() throws Exception {
    UsageError.within("--concurrency", concurrency, 1, 4096);
    UsageError.within("--requests", requests, 1, 10_000_000);
    UsageError.atLeast("--max-tokens", maxTokens, 1);
    UsageError.atLeast("--tenant-max-concurrent", tenantMaxConcurrent, 0);
    if (url != null && scripted != null)
      throw new UsageError("give --url URL or --scripted CASE.json, not both (--url measures a server that runs, --scripted"
          + " starts one of its own)");
    if (url == null && scripted == null) throw new UsageError("give either --url URL or --scripted CASE.json");
    // It sets a limit of the server --scripted starts: against --url it would be dropped without a word (tester44a).
    if (url != null && tenantMaxConcurrent > 0)
      throw new UsageError("--tenant-max-concurrent sets a limit of the server --scripted starts; a server at --url has its own"
          + " limits (its keys' max-concurrent): leave it out");
    // The server --scripted starts has no key, or one of its own with --tenant-max-concurrent: a key given would be dropped
    // without a word, or sent to a server that takes any (tester56d).
    if (scripted != null && apiKey != null)
      throw new UsageError("--api-key is the key of a server at --url; the server --scripted starts has none (or, with"
          + " --tenant-max-concurrent, one of its own that bench http sends): leave it out");
    TandemNode node = null;
    try {
      if (scripted != null) {
        node = startScripted();
      } else {
        url = baseUrl(url);
        if (!isLoopback(URI.create(url).getHost()))
          throw new UsageError("--url " + url + ": bench http only targets this machine; give a loopback host, e.g."
              + " http://127.0.0.1:8080 (or localhost, [::1])");
      }
      return run();
    } finally {
      if (node != null) node.close();
      quietLogsUndone.run();
      if (scratch != null) scratch.close();
    }
  }

  /**
   * Whether {@code host} (a URI's) is this machine's loopback: {@code localhost}, or an address
   * literal in 127.0.0.0/8 or {@code [::1]}. A name is not looked up (an unknown one was sent to the
   * resolver, and its failure read "Name or service not known").
   */
  static boolean isLoopback(String host) {
    if (host == null) return false;
    if (host.equalsIgnoreCase("localhost")) return true;
    boolean literal = host.matches("\\d{1,3}(\\.\\d{1,3}){3}") || host.startsWith("[");
    try {
      return literal && InetAddress.getByName(host.replaceAll("^\\[|\\]$", "")).isLoopbackAddress();
    } catch (java.net.UnknownHostException e) {
      return false; // a malformed literal (300.1.1.1)
    }
  }

  /**
   * The server's base URL from {@code --url}: {@code http://HOST:PORT}, a trailing {@code /} or
   * {@code /v1} (the OpenAI clients' base URL) taken off.
   *
   * @throws IllegalArgumentException naming what is wrong and what to give instead
   */
  static String baseUrl(String url) {
    String expected = "give the http:// URL of a Tandem server on this machine, e.g. http://127.0.0.1:8080";
    // host:port without a scheme (as curl takes it) reads as a scheme "127.0.0.1": name what is missing.
    if (!url.contains("://"))
      throw new UsageError("--url " + url + ": no scheme (http://); give --url http://" + url.strip()
          + (url.isBlank() ? "HOST:PORT" : "") + ", the http:// URL of a Tandem server on this machine");
    URI u;
    try {
      u = new URI(url.strip());
    } catch (java.net.URISyntaxException e) {
      throw new UsageError("--url " + url + ": not a URL (" + e.getReason() + "); " + expected);
    }
    if (!"http".equalsIgnoreCase(u.getScheme()) || u.getHost() == null)
      throw new UsageError("--url " + url + ": " + expected);
    if (u.getPort() > 65535 || (u.getPort() < 1 && u.getPort() != -1) || (u.getPort() == -1 && u.getAuthority().contains(":")))
      throw new UsageError("--url " + url + ": the port must be a number from 1 to 65535; " + expected);
    if (u.getQuery() != null || u.getFragment() != null)
      throw new UsageError("--url " + url + ": no query or fragment; " + expected);
    String path = u.getPath() == null ? "" : u.getPath().replaceAll("/+$", "");
    if (!path.isEmpty() && !path.equals("/v1"))
      throw new UsageError("--url " + url + ": the server's base URL has no path but /v1; " + expected);
    return "http://" + u.getHost() + (u.getPort() == -1 ? "" : ":" + u.getPort());
  }

  /** The folder {@code --scripted}'s scripts are written to, while its server runs; removed when the command ends. */
  private ScratchFolder scratch;

  /** Puts the loggers {@link #startScripted} quietened back as they were. */
  private Runnable quietLogsUndone = () -> {};

  private TandemNode startScripted() throws Exception {
    ScriptedCase scriptedCase = ScriptedCase.read("--scripted", scripted);
    scratch = ScratchFolder.create("tandem-bench");
    Path dir = scratch.path();
    Config config = ModelOptions.baseConfig();
    for (Role r : Role.values()) {
      String model = scriptedCase.writeScript(r, dir);
      config = config.withValue("tandem." + r + ".model", ConfigValueFactory.fromAnyRef(model));
    }
    config = config.withValue("tandem.http.port", ConfigValueFactory.fromAnyRef(0))
        .withValue("tandem.http.host", ConfigValueFactory.fromAnyRef("127.0.0.1"))
        .withValue("akka.loglevel", ConfigValueFactory.fromAnyRef("WARNING"));
    config = ConfigFactory.parseString("tandem.http.max-in-flight = " + Math.max(256, concurrency * 2)).withFallback(config);
    Map<Role, RoleSpec> roles = new EnumMap<>(Role.class);
    for (Role r : Role.values()) roles.put(r, RoleSpec.fromConfig(config, r));
    HttpSettings http = HttpSettings.fromConfig(config);
    // The case's speculative config is the server's, as generate --case runs it.
    if (scriptedCase.root.has("config"))
      http = http.withSpeculative(io.tandem.protocol.config.PaperConfigLoader.fromTree(scriptedCase.root.get("config"), "--scripted " + scripted).config());
    if (tenantMaxConcurrent > 0) {
      // A key of its own, random and long enough that the server does not warn it can be guessed (tester51b: sk-bench did).
      byte[] random = new byte[16];
      new java.security.SecureRandom().nextBytes(random);
      apiKey = "sk-bench-" + java.util.HexFormat.of().formatHex(random);
      http = http.withTenants(List.of(new TenantSpec(apiKey, "bench", tenantMaxConcurrent, 0)));
    }
    // The request log (logback.xml: one JSON line per request on stdout) is for a server's operator;
    // the bench's server is its own, and stdout carries the bench's result alone.
    // So are a server's start-up lines, "tandem serve: NO API KEYS CONFIGURED ..." among them, which told the bench's user
    // of an open server they never started (tester56d); its errors are still said. Both as they were once the bench ends
    // (commands run in-process in tests).
    var requests = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(REQUEST_LOG);
    var server = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(TandemHttpServer.class);
    ch.qos.logback.classic.Level requestsWere = requests.getLevel(), serverWas = server.getLevel();
    requests.setLevel(ch.qos.logback.classic.Level.OFF);
    server.setLevel(ch.qos.logback.classic.Level.ERROR);
    quietLogsUndone = () -> {
      requests.setLevel(requestsWere);
      server.setLevel(serverWas);
    };
    TandemNode node = TandemNode.start("tandem-bench", config, roles, true);
    TandemHttpServer bound = TandemHttpServer.start(node.system(), node.sessions(), http).toCompletableFuture().get(60, TimeUnit.SECONDS);
    url = "http://127.0.0.1:" + bound.port();
    HttpClient c = HttpClient.newHttpClient();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (c.send(HttpRequest.newBuilder(URI.create(url + "/health/ready")).build(), HttpResponse.BodyHandlers.discarding()).statusCode() != 200) {
      if (System.nanoTime() > deadline) throw new IllegalStateException("the scripted server never became ready");
      Thread.sleep(50);
    }
    return node;
  }

  /** How long the server at {@code --url} has to answer its first request before the run: a {@code GET /v1/models}. */
  static final Duration FIRST_ANSWER_WITHIN = Duration.ofSeconds(10);

  /** How long a request may take, its whole answer read. */
  static final Duration REQUEST_TIMEOUT = Duration.ofMinutes(5);

  /** How long without any answer before the run says how far it is. */
  static final Duration STALL_REPORT = Duration.ofSeconds(30);

  /**
   * Fails at once when nothing at {@code --url} answers a {@code GET /v1/models} (any status will
   * do) within {@link #FIRST_ANSWER_WITHIN}: a closed port is said before a thousand requests have
   * each been refused, and a server that takes connections and never answers (stopped, stalled, or
   * no HTTP server) before each request has waited out its timeout of minutes in silence
   * (tester50d: over 90 s without a line, some 80 minutes with the defaults).
   */
  private void answersAtAll(HttpClient client) throws InterruptedException {
    try {
      HttpRequest.Builder probe = HttpRequest.newBuilder(URI.create(url + "/v1/models")).timeout(FIRST_ANSWER_WITHIN).GET();
      // With the key the requests carry: a keyless probe was a 401 in the server's log and metrics (tester53f).
      if (apiKey != null) probe.header("Authorization", "Bearer " + apiKey);
      client.send(probe.build(), HttpResponse.BodyHandlers.discarding());
    } catch (java.net.http.HttpConnectTimeoutException e) {
      // Not accepted at all (tester53i: said as a port that takes connections).
      throw new IllegalStateException(url + " does not answer: its port did not accept the connection within 10 s (a server"
          + " stopped or stalled, or one whose backlog is full); check what runs there, or give --url of a running Tandem");
    } catch (java.net.http.HttpTimeoutException e) {
      throw new IllegalStateException(url + " does not answer: GET /v1/models got no answer within "
          + FIRST_ANSWER_WITHIN.toSeconds() + " s, though its port takes connections (a server stopped or stalled, or no HTTP"
          + " server); check what runs there, or give --url of a running Tandem");
    } catch (java.io.IOException e) {
      throw new IllegalStateException("nothing answers at " + url + " (" + (e instanceof java.net.ConnectException
          ? "its port refused the connection" : "GET /v1/models failed: " + e) + "); " + startOne());
    }
  }

  /** What to do when nothing answers at {@code --url}: start a server there, with the host it names. */
  private String startOne() {
    URI at = URI.create(url);
    int port = at.getPort();
    // serve binds 127.0.0.1 unless told: a server for [::1] or 127.0.0.2 is started with --host.
    String host = at.getHost().replaceAll("^\\[|\\]$", "");
    String bind = host.equals("127.0.0.1") || host.equalsIgnoreCase("localhost") ? "" : " --host " + host;
    return "start a server there (./tandem serve --port " + (port == -1 ? 80 : port) + bind + ") or give --url of a running one";
  }

  private int run() throws Exception {
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .executor(Executors.newFixedThreadPool(4)).connectTimeout(Duration.ofSeconds(10)).build();
    if (scripted == null) answersAtAll(client);
    String body = "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"What is 1 + 2?\"}],"
        + "\"max_tokens\":" + maxTokens + (stream ? ",\"stream\":true,\"stream_options\":{\"include_usage\":true}" : "") + "}";
    AtomicInteger next = new AtomicInteger();
    AtomicInteger ok = new AtomicInteger(), r429 = new AtomicInteger(), r503 = new AtomicInteger(), other = new AtomicInteger(), failed = new AtomicInteger();
    // A stream is answered 200 before it fails: its error comes as an event ({"error": ...}) inside it.
    AtomicInteger streamErrors = new AtomicInteger();
    // Which statuses "other" were: a 502 from a proxy and a 500 of Tandem's own call for different fixes.
    Map<Integer, AtomicInteger> otherCodes = new ConcurrentSkipListMap<>();
    // The first answer that was not a result, to say why (tester44a: "other 10 (HTTP 401 x10)", exit 1, and no reason).
    java.util.concurrent.atomic.AtomicReference<String> firstRefusal = new java.util.concurrent.atomic.AtomicReference<>();
    // The first request that got no answer at all, to say why (tester53f: exit 1 and nothing said).
    java.util.concurrent.atomic.AtomicReference<Exception> firstTransportError = new java.util.concurrent.atomic.AtomicReference<>();
    AtomicLong tokens = new AtomicLong();
    // Of the requests served (a 2xx with a result) only: a refusal's milliseconds are no latency of the server's answers
    // (tester53a: 277 instant 429s beside 23 results read as p50 76 ms, where the results' was 245 ms).
    long[] latencies = new long[requests];
    Arrays.fill(latencies, -1);
    AtomicInteger answered = new AtomicInteger();
    ExecutorService clients = Executors.newFixedThreadPool(concurrency);
    long t0 = System.nanoTime();
    // A server that answers GET /v1/models but holds every request (each may take 5 minutes) is said, not waited for in
    // silence (tester53a: nothing printed for minutes).
    java.util.concurrent.ScheduledExecutorService watch = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "bench-http-watch");
      t.setDaemon(true);
      return t;
    });
    int[] lastSeen = {0};
    watch.scheduleAtFixedRate(() -> {
      int now = answered.get();
      if (now == lastSeen[0]) {
        spec.commandLine().getErr().printf(java.util.Locale.ROOT, "tandem bench http: %d of %d ended (answered or failed) after"
            + " %.0f s, none in the last %d s (each request waits up to 5 minutes; Ctrl-C stops)%n", now, requests,
            (System.nanoTime() - t0) / 1e9,
            STALL_REPORT.toSeconds());
        spec.commandLine().getErr().flush();
      }
      lastSeen[0] = now;
    }, STALL_REPORT.toSeconds(), STALL_REPORT.toSeconds(), TimeUnit.SECONDS);
    for (int i = 0; i < concurrency; i++) {
      clients.submit(() -> {
        int n;
        while ((n = next.getAndIncrement()) < requests) {
          HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + "/v1/chat/completions"))
              .POST(HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", "application/json")
              .timeout(REQUEST_TIMEOUT);
          if (apiKey != null) b.header("Authorization", "Bearer " + apiKey);
          long s = System.nanoTime();
          try {
            // The whole answer within the 5 minutes, its body included: the request's own timeout covers only the wait for
            // its headers (tester53i: a stream that stopped mid-body was waited for without end).
            java.util.concurrent.CompletableFuture<HttpResponse<String>> sending =
                client.sendAsync(b.build(), HttpResponse.BodyHandlers.ofString());
            HttpResponse<String> r;
            try {
              r = sending.get(REQUEST_TIMEOUT.toMinutes(), TimeUnit.MINUTES);
            } catch (java.util.concurrent.TimeoutException late) {
              sending.cancel(true);
              throw late;
            } catch (java.util.concurrent.ExecutionException e) {
              throw e.getCause() instanceof Exception cause ? cause : e;
            }
            long took = System.nanoTime() - s;
            answered.incrementAndGet();
            int code = r.statusCode();
            // A 2xx is a result when it carries one, with its usage (tester53a: a proxy's HTML page with 200 counted as ok).
            long resultTokens = code / 100 == 2 ? resultTokens(r.body(), stream) : -1;
            boolean result = resultTokens >= 0;
            if (!result || (stream && streamError(r.body())))
              firstRefusal.compareAndSet(null, "HTTP " + code + (code / 100 == 2 && !streamError(r.body())
                  ? " without a result (" + (stream ? "data: chunks with choices, the last usage with" : "a JSON object with choices and a usage with")
                      + " completion_tokens from 0 to 2147483647), "
                  : ", ") + errorOf(r.body()));
            if (code / 100 == 2 && stream && streamError(r.body())) {
              streamErrors.incrementAndGet();
            } else if (result) {
              latencies[n] = took;
              ok.incrementAndGet();
              // A stream's own count, in its usage chunk, as a non-streamed answer's: its chunks are no tokens (the first
              // carries the role alone, one may carry several; tester49b read 2 tokens a request at max_tokens 1).
              tokens.addAndGet(resultTokens);
            } else if (code == 429) r429.incrementAndGet();
            else if (code == 503) r503.incrementAndGet();
            else {
              other.incrementAndGet();
              otherCodes.computeIfAbsent(code, c -> new AtomicInteger()).incrementAndGet();
            }
          } catch (Exception e) {
            answered.incrementAndGet();
            failed.incrementAndGet();
            firstTransportError.compareAndSet(null, e);
          }
        }
        return null;
      });
    }
    clients.shutdown();
    if (!clients.awaitTermination(24, TimeUnit.HOURS)) throw new IllegalStateException("bench did not finish");
    watch.shutdownNow();
    double seconds = (System.nanoTime() - t0) / 1e9;
    if (failed.get() == requests) {
      String unanswered = requests == 1 ? "the one request got no answer" : "none of the " + requests + " requests got an answer";
      // The server there answered GET /v1/models before the run (with --url): it is up, and its POSTs are what fail
      // (tester53f: told to start a server where one ran).
      if (scripted == null)
        throw new IllegalStateException("the server at " + url + " answered GET /v1/models, but " + unanswered + " ("
            + transportError(firstTransportError.get()) + "); check its log");
      throw new IllegalStateException("nothing answers at " + url + " (" + unanswered + "); " + startOne());
    }
    long[] sorted = Arrays.stream(latencies).filter(l -> l >= 0).sorted().toArray();
    ObjectNode out = new ObjectMapper().createObjectNode();
    out.put("url", url);
    out.put("concurrency", Math.min(concurrency, requests));
    out.put("requests", requests);
    out.put("max_tokens", maxTokens);
    out.put("stream", stream);
    out.put("seconds", Math.round(seconds * 1000) / 1000.0);
    out.put("requests_per_second", round(requests / seconds));
    out.put("ok_requests_per_second", round(ok.get() / seconds));
    out.put("completion_tokens", tokens.get());
    out.put("completion_tokens_per_second", round(tokens.get() / seconds));
    // Of the requests served only; null when none was.
    if (sorted.length == 0) {
      out.putNull("p50_ms");
      out.putNull("p99_ms");
      out.putNull("max_ms");
    } else {
      out.put("p50_ms", round(percentile(sorted, 0.50) / 1e6));
      out.put("p99_ms", round(percentile(sorted, 0.99) / 1e6));
      out.put("max_ms", round(sorted[sorted.length - 1] / 1e6));
    }
    out.put("status_2xx", ok.get());
    out.put("status_429", r429.get());
    out.put("status_503", r503.get());
    out.put("status_other", other.get());
    ObjectNode codes = out.putObject("status_other_codes");
    otherCodes.forEach((code, n) -> codes.put(String.valueOf(code), n.get()));
    out.put("stream_errors", streamErrors.get());
    out.put("transport_errors", failed.get());
    if (json) System.out.println(out);
    else System.out.printf("%s, concurrency %d, %.2f s: %.1f req/s (%.1f ok/s), %.0f completion tokens/s;"
            + " latency of the %s p50 %s, p99 %s; 2xx %d, 429 %d, 503 %d, other %d%s, streams ended by an error %d,"
            + " transport errors %d%n",
        Plural.count(requests, "request"), Math.min(concurrency, requests), seconds, requests / seconds, ok.get() / seconds, tokens.get() / seconds,
        ok.get() + " served", sorted.length == 0 ? "—" : String.format(java.util.Locale.ROOT, "%.1f ms", percentile(sorted, 0.5) / 1e6),
        sorted.length == 0 ? "—" : String.format(java.util.Locale.ROOT, "%.1f ms", percentile(sorted, 0.99) / 1e6),
        ok.get(), r429.get(), r503.get(), other.get(),
        otherCodes.isEmpty() ? "" : otherCodes.entrySet().stream().map(e -> "HTTP " + e.getKey() + " x" + e.getValue().get())
            .collect(java.util.stream.Collectors.joining(", ", " (", ")")),
        streamErrors.get(), failed.get());
    if (firstRefusal.get() != null) {
      spec.commandLine().getErr().println("tandem bench http: the first answer that was no result: " + firstRefusal.get());
      spec.commandLine().getErr().flush();
    }
    if (firstTransportError.get() != null) {
      spec.commandLine().getErr().println("tandem bench http: " + Plural.count(failed.get(), "request") + " got no answer;"
          + " the first: " + transportError(firstTransportError.get()));
      spec.commandLine().getErr().flush();
    }
    // Nothing served (every answer a 429 or 503) is no load test that passed (tester53a: exit 0).
    if (ok.get() == 0) {
      spec.commandLine().getErr().println("tandem bench http: none of the " + requests + " requests was served (a 2xx with a"
          + " result)");
      spec.commandLine().getErr().flush();
    }
    return ok.get() > 0 && other.get() + failed.get() + streamErrors.get() == 0 ? 0 : 1;
  }

  /**
   * The message of an answer's error object (a refusal's body, or a stream's error event), else the
   * start of its body (a proxy's page).
   */
  static String errorOf(String body) {
    int i = body.indexOf("{\"error\"");
    if (i >= 0) {
      int end = body.indexOf('\n', i);
      try {
        String error = body.substring(i, end < 0 ? body.length() : end);
        com.fasterxml.jackson.databind.JsonNode message = new ObjectMapper().readTree(error).path("error").path("message");
        if (message.isTextual()) return "\"" + message.asText() + "\"";
      } catch (java.io.IOException notJson) {
        // shown as it came, below
      }
    }
    String b = body.strip().replaceAll("\\s+", " "); // one line, a proxy's HTML page included
    return b.isEmpty() ? "an empty body" : "body " + (b.length() > 200 ? b.substring(0, 200) + "..." : b);
  }

  /**
   * The completion tokens of a result, or -1 for a body that is no result: a non-streamed answer is
   * a JSON object with a choice and its {@code usage}; a stream's {@code data:} events are JSON, one
   * with a choice, and its last usage counts (vLLM's {@code continuous_usage_stats} writes a running
   * count in every chunk). Read as JSON, not by its text (tester53f: {@code "completion_tokens": 7},
   * as OpenAI and Python's json write it, read as 0; a page quoting a result counted as one).
   */
  static long resultTokens(String body, boolean stream) {
    try {
      if (!stream) {
        JsonNode answer = JSON.readTree(body);
        JsonNode used = answer == null ? null : answer.path("usage").path("completion_tokens");
        return answer != null && answer.path("choices").size() > 0 && count(used) ? used.asLong() : -1;
      }
      boolean choice = false;
      long used = -1;
      boolean badCount = false;
      for (String line : body.split("\n")) {
        if (!line.startsWith("data:") || line.substring(5).strip().equals("[DONE]")) continue;
        JsonNode event = JSON.readTree(line.substring(5));
        if (event.path("choices").size() > 0) choice = true;
        JsonNode n = event.path("usage").path("completion_tokens");
        // The last usage is the answer's: one that is no count makes the stream no result (tester53i: an earlier valid one
        // was kept).
        if (!n.isMissingNode()) {
          badCount = !count(n);
          if (!badCount) used = n.asLong();
        }
      }
      return choice && used >= 0 && !badCount ? used : -1;
    } catch (java.io.IOException notJson) {
      return -1;
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  /** A token count an answer may have: a whole number from 0 to an int's largest (tester53h: 10^20 wrapped to a negative rate). */
  private static boolean count(JsonNode n) {
    return n.isIntegralNumber() && n.canConvertToInt() && n.asInt() >= 0;
  }

  /** Whether a stream ended in an error event: {@code data: {"error": ...}}, the space after {@code data:} optional (SSE). */
  static boolean streamError(String body) {
    return STREAM_ERROR.matcher(body).find();
  }

  private static final java.util.regex.Pattern STREAM_ERROR = java.util.regex.Pattern.compile("(?m)^data:[ \\t]*\\{\\s*\"error\"");

  /** A request's failure to get any answer, in words: its kind and message. */
  private static String transportError(Exception e) {
    if (e == null) return "no error was caught";
    // A connection not accepted is a timeout too, of the client's 10 s to connect (tester53h: said as 5 minutes).
    if (e instanceof java.net.http.HttpConnectTimeoutException) return "the connection was not accepted within 10 s";
    if (e instanceof java.net.http.HttpTimeoutException || e instanceof java.util.concurrent.TimeoutException)
      return "no whole answer within the request's 5 minutes";
    return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
  }


  private static double percentile(long[] sorted, double p) {
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1)];
  }

  private static double round(double x) {
    return Math.round(x * 10) / 10.0;
  }
}
