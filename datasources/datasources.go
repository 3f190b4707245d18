// Package datasources holds the provider's data sources, one file each; each
// file's constructor is New<Name>DataSource, listed in provider.DataSources.
package datasources
