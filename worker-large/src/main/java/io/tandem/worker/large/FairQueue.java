package io.tandem.worker.large;

import io.tandem.protocol.FailureCode;
import io.tandem.worker.AdmissionQueue;
import io.tandem.worker.PendingRequest;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The large worker's order: round-robin over tenants, first come first served within a tenant, so
 * that one tenant's burst of takeovers cannot starve another's. Bounded in total and per tenant.
 */
public final class FairQueue implements AdmissionQueue {
  private final Map<String, ArrayDeque<PendingRequest>> byTenant = new LinkedHashMap<>();
  private final ArrayDeque<String> turn = new ArrayDeque<>();
  private final int limit;
  private final int perTenantLimit;
  private int size;

  /**
   * @param limit the most requests waiting in all, >= 1
   * @param perTenantLimit the most requests of one tenant waiting, >= 1
   * @throws IllegalArgumentException when a limit is below 1
   */
  public FairQueue(int limit, int perTenantLimit) {
    if (limit < 1) throw new IllegalArgumentException("queue limit must be >= 1, got " + limit);
    if (perTenantLimit < 1) throw new IllegalArgumentException("per-tenant queue limit must be >= 1, got " + perTenantLimit);
    this.limit = limit;
    this.perTenantLimit = perTenantLimit;
  }

  @Override
  public boolean offer(PendingRequest request) {
    if (size >= limit) return false;
    ArrayDeque<PendingRequest> q = byTenant.get(request.tenant());
    if (q != null && q.size() >= perTenantLimit) return false;
    if (q == null) {
      q = new ArrayDeque<>();
      byTenant.put(request.tenant(), q);
      turn.addLast(request.tenant());
    }
    q.addLast(request);
    size++;
    return true;
  }

  /** The whole queue's limit, or the tenant's share of it when that is what {@code request} met. */
  @Override
  public Full whyFull(PendingRequest request, String keys) {
    ArrayDeque<PendingRequest> q = byTenant.get(request.tenant());
    if (size < limit && q != null && q.size() >= perTenantLimit)
      return new Full(FailureCode.TENANT_QUEUE_FULL, "queue already holds "
          + io.tandem.protocol.text.Plural.count(q.size(), "request") + " of tenant '"
          + request.tenant() + "', the most one tenant may have waiting (" + keys + "per-tenant-queue-limit; other tenants'"
          + " requests are still taken)");
    return AdmissionQueue.super.whyFull(request, keys);
  }

  @Override
  public PendingRequest poll() {
    String tenant = turn.pollFirst();
    if (tenant == null) return null;
    ArrayDeque<PendingRequest> q = byTenant.get(tenant);
    PendingRequest p = q.pollFirst();
    size--;
    if (q.isEmpty()) byTenant.remove(tenant);
    else turn.addLast(tenant);
    return p;
  }

  @Override
  public PendingRequest remove(String sessionId) {
    for (Map.Entry<String, ArrayDeque<PendingRequest>> e : byTenant.entrySet()) {
      for (Iterator<PendingRequest> it = e.getValue().iterator(); it.hasNext(); ) {
        PendingRequest p = it.next();
        if (p.sessionId().equals(sessionId)) {
          it.remove();
          size--;
          if (e.getValue().isEmpty()) {
            byTenant.remove(e.getKey());
            turn.remove(e.getKey());
          }
          return p;
        }
      }
    }
    return null;
  }

  @Override
  public PendingRequest find(String sessionId) {
    for (ArrayDeque<PendingRequest> q : byTenant.values())
      for (PendingRequest p : q) if (p.sessionId().equals(sessionId)) return p;
    return null;
  }

  @Override
  public int size() {
    return size;
  }
}
