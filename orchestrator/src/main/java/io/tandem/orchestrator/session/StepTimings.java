package io.tandem.orchestrator.session;

import io.tandem.protocol.Role;

/**
 * One finished model step of a session, as its worker reported it (published on the node's event
 * stream when {@code tandem.session.publish-step-timings = on}): how long the request queued, how
 * many tokens the worker had to prefill, from which position.
 */
public record StepTimings(String sessionId, Role role, String worker, int basePosition, int prefillTokens,
    int generatedTokens, long queueNanos, long computeNanos) {}
