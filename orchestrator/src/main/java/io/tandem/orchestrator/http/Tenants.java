package io.tandem.orchestrator.http;

import io.tandem.protocol.text.Plural;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * Who may call and how much: API keys to tenants, each with a concurrency limit and a
 * tokens-per-minute budget (a token bucket refilled continuously), plus the server-wide limit on
 * requests in flight. Thread-safe; every admitted request must be {@link Permit#close() closed}.
 */
public final class Tenants {

  /** The tenant of an open server (no keys configured). */
  public static final String OPEN_TENANT = "open";

  private final Map<String, TenantSpec> byKey = new HashMap<>();
  private final Map<String, State> byTenant = new HashMap<>();
  private final int maxInFlight;
  private final int retryAfterSeconds;
  private final LongSupplier nanoTime;
  private int inFlight;

  public Tenants(List<TenantSpec> specs, int maxInFlight, int retryAfterSeconds, LongSupplier nanoTime) {
    for (TenantSpec s : specs) {
      byKey.put(s.key(), s);
      // Several keys of one tenant share its limits: the strictest non-zero figure wins.
      byTenant.merge(s.tenant(), new State(s.maxConcurrent(), s.tokensPerMinute(), nanoTime.getAsLong()),
          (a, b) -> new State(min(a.maxConcurrent, b.maxConcurrent), min(a.tokensPerMinute, b.tokensPerMinute), a.refilledAt));
    }
    if (specs.isEmpty()) byTenant.put(OPEN_TENANT, new State(0, 0, nanoTime.getAsLong()));
    this.maxInFlight = maxInFlight;
    // 0: no Retry-After at all (tandem.http.retry-after = 0s), the tokens-per-minute wait included.
    this.retryAfterSeconds = retryAfterSeconds;
    this.nanoTime = nanoTime;
  }

  private static long min(long a, long b) {
    if (a == 0) return b;
    if (b == 0) return a;
    return Math.min(a, b);
  }

  private static int min(int a, int b) {
    return (int) min((long) a, (long) b);
  }

  /** The tenants' names: each configured tenant once, or the {@link #OPEN_TENANT} when no key is configured. */
  public synchronized Set<String> names() {
    return Set.copyOf(byTenant.keySet());
  }

  /**
   * The tenant for a request's {@code Authorization} header values, or a 401. With no keys
   * configured every caller is the open tenant. More than one value is refused rather than the
   * first taken: {@code Authorization} is no list (RFC 9110 section 11.6.2 gives it one set of
   * credentials), and a proxy adding its own key beside the client's must not pick the tenant by
   * header order.
   */
  public String authenticate(List<String> authorization) {
    if (byKey.isEmpty()) return OPEN_TENANT;
    if (authorization.isEmpty())
      throw ApiError.unauthorized("no API key: send the header 'Authorization: Bearer YOUR_KEY'", false);
    if (authorization.size() > 1)
      throw ApiError.unauthorized("the request has " + authorization.size() + " Authorization headers; send one,"
          + " 'Authorization: Bearer YOUR_KEY'", false);
    String h = authorization.get(0).strip();
    if (!h.regionMatches(true, 0, "Bearer ", 0, 7))
      throw ApiError.unauthorized("the Authorization header must be 'Bearer YOUR_KEY'", false);
    TenantSpec spec = byKey.get(h.substring(7).strip());
    if (spec == null) throw ApiError.unauthorized("incorrect API key provided", true);
    return spec.tenant();
  }

  /** Admits one request of {@code tenant} or throws a 429 (tenant limit) or 503 (server full). */
  public synchronized Permit admit(String tenant) {
    State s = byTenant.get(tenant);
    if (s == null) throw new IllegalStateException("unknown tenant " + tenant);
    s.refill(nanoTime.getAsLong());
    if (s.maxConcurrent > 0 && s.running >= s.maxConcurrent)
      throw ApiError.rateLimited(ApiError.Limit.requests, "tenant '" + tenant + "' already has " + Plural.count(s.running, "request")
          + " running, its limit is "
          + s.maxConcurrent + "; retry when one finishes", retryAfterSeconds);
    if (s.tokensPerMinute > 0 && s.tokens < 1) {
      double perSecond = s.tokensPerMinute / 60.0;
      int wait = (int) Math.ceil((1 - s.tokens) / perSecond);
      // Requests still running are charged when they end, and then push the wait further: the Retry-After is the
      // least wait, which the message says (tester46a: a retry after 2 s met a 429 of 29 s).
      String running = s.running == 0 ? "" : ", or later: its " + Plural.count(s.running, "request") + " still running "
          + (s.running == 1 ? "is" : "are") + " charged when " + (s.running == 1 ? "it ends" : "they end");
      throw ApiError.rateLimited(ApiError.Limit.tokens, "tenant '" + tenant + "' used its "
          + Plural.count(s.tokensPerMinute, "token") + " per minute; retry in " + wait + " s" + running, retryAfterSeconds == 0 ? 0 : Math.max(1, wait));
    }
    if (maxInFlight > 0 && inFlight >= maxInFlight)
      throw ApiError.overloaded("the server is at capacity (" + Plural.count(inFlight, "request") + " in flight); " + ApiError.retryIn(retryAfterSeconds),
          retryAfterSeconds);
    s.running++;
    inFlight++;
    return new Permit(tenant, s);
  }

  public synchronized int inFlight() {
    return inFlight;
  }

  private synchronized void release(State s, long tokens) {
    s.running--;
    inFlight--;
    charge(s, tokens);
  }

  private synchronized void charge(State s, long tokens) {
    if (s.tokensPerMinute > 0) {
      s.refill(nanoTime.getAsLong());
      s.tokens -= tokens;
    }
  }

  /** One admitted request: charge its tokens as they are known, close it when it ends. */
  public final class Permit implements AutoCloseable {
    private final String tenant;
    private final State state;
    private long tokens;
    private boolean closed;

    private Permit(String tenant, State state) {
      this.tenant = tenant;
      this.state = state;
    }

    public String tenant() {
      return tenant;
    }

    /** Tokens this request used (prompt and completion), charged to the tenant's budget when it closes. */
    public synchronized void addTokens(long n) {
      tokens += n;
    }

    @Override
    public synchronized void close() {
      if (closed) return;
      closed = true;
      release(state, tokens);
    }
  }

  private static final class State {
    final int maxConcurrent;
    final long tokensPerMinute;
    int running;
    double tokens;
    long refilledAt;

    State(int maxConcurrent, long tokensPerMinute, long now) {
      this.maxConcurrent = maxConcurrent;
      this.tokensPerMinute = tokensPerMinute;
      this.tokens = tokensPerMinute;
      this.refilledAt = now;
    }

    void refill(long now) {
      if (tokensPerMinute == 0) return;
      tokens = Math.min(tokensPerMinute, tokens + (now - refilledAt) / 60e9 * tokensPerMinute);
      refilledAt = now;
    }
  }
}
