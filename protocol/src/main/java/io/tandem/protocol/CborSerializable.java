package io.tandem.protocol;

/**
 * Marker for every message that may cross the network; bound to Jackson CBOR ({@code jackson-cbor})
 * in protocol's reference.conf, so no message relies on Java serialization.
 */
public interface CborSerializable {}
