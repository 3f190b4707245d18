// Package datasources holds the provider's data sources, one file each.
package datasources

import "github.com/hashicorp/terraform-plugin-framework/datasource"

// All lists the data source constructors the provider serves.
func All() []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewHost, NewHosts, NewVM, NewVMs, NewDrift,
	}
}
