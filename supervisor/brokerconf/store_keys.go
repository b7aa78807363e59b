package brokerconf

// storeFields binds the message store's keys (MessageStoreConfig).
func (c *Config) storeFields(f fields) {}
