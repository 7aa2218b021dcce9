#!/usr/bin/perl
# Print every network of a MaxMind DB that has a data record, one JSON
# object per line: {"network": "1.2.3.0/24", "record": {...}}, read with
# MaxMind::DB::Reader (pure Perl, independent of libmaxminddb). IPv4
# networks of an IPv6 tree (::/96) are printed in IPv4 form; the aliases of
# the IPv4 space (::ffff:0:0/96, 2001::/32, 2002::/16) are skipped.
use strict;
use warnings;

use JSON::PP;
use Math::BigInt;
use MaxMind::DB::Reader;
use Socket qw(AF_INET6 inet_ntop);

my $file = shift or die "usage: $0 FILE.mmdb\n";
my $reader = MaxMind::DB::Reader->new( file => $file );
my $v6 = $reader->metadata->ip_version == 6;
my $json = JSON::PP->new->canonical;
my %seen;

$reader->iterate_search_tree(
    sub {
        my ( $ipnum, $depth, $record ) = @_;
        my $net;
        if ( !$v6 ) {
            $net = join( '.', unpack( 'C4', pack( 'N', $ipnum ) ) ) . "/$depth";
        }
        else {
            my $n = Math::BigInt->new($ipnum);
            my $hex = substr( $n->as_hex, 2 );
            $hex = ( '0' x ( 32 - length $hex ) ) . $hex;
            my $bytes = pack( 'H32', $hex );
            my $top = unpack( 'H8', $bytes );
            return if substr( $top, 0, 4 ) eq '2002' || $top eq '20010000';
            return if substr( unpack( 'H32', $bytes ), 0, 24 ) eq '00000000000000000000ffff';
            if ( substr( unpack( 'H32', $bytes ), 0, 24 ) eq '0' x 24 && $depth >= 96 ) {
                $net = join( '.', unpack( 'C4', substr( $bytes, 12, 4 ) ) ) . '/' . ( $depth - 96 );
            }
            else {
                $net = inet_ntop( AF_INET6, $bytes ) . "/$depth";
            }
        }
        return if $seen{$net}++;
        print $json->encode( { network => $net, record => $record } ), "\n";
    }
);
